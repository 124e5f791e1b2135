import CRIAPI
import Runtime

/// Namespace options between the CRI and Runtime, both ways: statuses report a pod's options as sent.
extension NamespaceOptions {
  init(_ cri: Runtime_V1_NamespaceOption) {
    self.init()
    network = NamespaceMode(cri.network)
    pid = NamespaceMode(cri.pid)
    ipc = NamespaceMode(cri.ipc)
    targetID = cri.targetID
    if cri.hasUsernsOptions { usernsOptions = UserNamespaceOptions(cri.usernsOptions) }
  }

  var cri: Runtime_V1_NamespaceOption {
    var cri = Runtime_V1_NamespaceOption()
    cri.network = network.cri
    cri.pid = pid.cri
    cri.ipc = ipc.cri
    cri.targetID = targetID
    if let usernsOptions { cri.usernsOptions = usernsOptions.cri }
    return cri
  }
}

extension NamespaceMode {
  init(_ cri: Runtime_V1_NamespaceMode) {
    switch cri {
    case .pod: self = .pod
    case .container: self = .container
    case .node: self = .node
    case .target: self = .target
    case .UNRECOGNIZED(let value): self = .unrecognized(value)
    }
  }

  var cri: Runtime_V1_NamespaceMode {
    switch self {
    case .pod: return .pod
    case .container: return .container
    case .node: return .node
    case .target: return .target
    case .unrecognized(let value): return .UNRECOGNIZED(value)
    }
  }
}

extension UserNamespaceOptions {
  init(_ cri: Runtime_V1_UserNamespace) {
    self.init(mode: NamespaceMode(cri.mode), uids: cri.uids.map(IDMapping.init), gids: cri.gids.map(IDMapping.init))
  }

  var cri: Runtime_V1_UserNamespace {
    .with {
      $0.mode = mode.cri
      $0.uids = uids.map(\.cri)
      $0.gids = gids.map(\.cri)
    }
  }
}

extension IDMapping {
  init(_ cri: Runtime_V1_IDMapping) {
    self.init(hostID: cri.hostID, containerID: cri.containerID, length: cri.length)
  }

  var cri: Runtime_V1_IDMapping {
    .with {
      $0.hostID = hostID
      $0.containerID = containerID
      $0.length = length
    }
  }
}
