import CLinux
import CrispCore
import CSeccomp
import Foundation
import Glibc
import Images
import Synchronization
import OCI

/// The host's cgroup mounts: where each hierarchy named in /proc/<pid>/cgroup is mounted.
struct CgroupMounts: Sendable {
  /// v1 hierarchies by their options (controllers, `name=`), and the v2 mount.
  var v1: [(options: Set<Substring>, mountPoint: String)]
  var v2: String?

  /// Read once: cgroup mounts do not move while a node runs.
  static let current = CgroupMounts(MountInfo.current())

  static func parse(_ mountinfo: String) -> CgroupMounts { CgroupMounts(MountInfo.parse(mountinfo)) }

  init(_ mounts: [MountInfo]) {
    v1 = []
    for mount in mounts where mount.root == "/" {
      switch mount.fsType {
      case "cgroup2": if v2 == nil { v2 = mount.mountPoint }
      case "cgroup": v1.append((Set(mount.superOptions.split(separator: ",")), mount.mountPoint))
      default: continue
      }
    }
  }

  func mountPoint(hierarchy: Int, controllers: String) -> String? {
    if hierarchy == 0 && controllers.isEmpty { return v2 }
    let wanted = Set(controllers.split(separator: ","))
    guard !wanted.isEmpty else { return nil }
    return v1.first { wanted.isSubset(of: $0.options) }?.mountPoint
  }
}
