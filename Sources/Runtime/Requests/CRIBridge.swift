import CRIAPI

// Until container creation takes a ContainerSpec: the container config's parts that code shared with
// sandboxes reads in Runtime's own types.
extension ContainerResources {
  init(_ cri: Runtime_V1_LinuxContainerResources) {
    self.init()
    cpuPeriod = cri.cpuPeriod
    cpuQuota = cri.cpuQuota
    cpuShares = cri.cpuShares
    memoryLimitInBytes = cri.memoryLimitInBytes
    oomScoreAdj = cri.oomScoreAdj
    cpusetCpus = cri.cpusetCpus
    cpusetMems = cri.cpusetMems
    hugepageLimits = cri.hugepageLimits.map { HugepageLimit(pageSize: $0.pageSize, limit: $0.limit) }
    unified = cri.unified
    memorySwapLimitInBytes = cri.memorySwapLimitInBytes
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
}

extension NamespaceOptions {
  init(_ cri: Runtime_V1_NamespaceOption) {
    self.init()
    network = NamespaceMode(cri.network)
    pid = NamespaceMode(cri.pid)
    ipc = NamespaceMode(cri.ipc)
    targetID = cri.targetID
    if cri.hasUsernsOptions {
      let options = cri.usernsOptions
      let mappings = { (list: [Runtime_V1_IDMapping]) in list.map { IDMapping(hostID: $0.hostID, containerID: $0.containerID, length: $0.length) } }
      usernsOptions = UserNamespaceOptions(mode: NamespaceMode(options.mode), uids: mappings(options.uids), gids: mappings(options.gids))
    }
  }
}

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

extension IDMapping {
  init(_ cri: Runtime_V1_IDMapping) {
    self.init(hostID: cri.hostID, containerID: cri.containerID, length: cri.length)
  }
}
