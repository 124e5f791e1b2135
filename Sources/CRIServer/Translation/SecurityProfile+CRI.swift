import CRIAPI
import Runtime

/// Seccomp/AppArmor profiles and SELinux labels as Runtime checks them.
extension SecurityProfile {
  init(_ cri: Runtime_V1_SecurityProfile) {
    let kind: Kind
    switch cri.profileType {
    case .runtimeDefault: kind = .runtimeDefault
    case .unconfined: kind = .unconfined
    case .localhost: kind = .localhost
    case .UNRECOGNIZED(let value): kind = .unrecognized(value)
    }
    self.init(kind: kind, localhostRef: cri.localhostRef)
  }
}

extension SELinuxOptions {
  init(_ cri: Runtime_V1_SELinuxOption) {
    self.init(user: cri.user, role: cri.role, type: cri.type, level: cri.level)
  }
}
