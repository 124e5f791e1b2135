import CRIAPI
import CrispCore
import Runtime

/// RunPodSandbox's config as Runtime's ``PodSandboxSpec``: the one place a pod's CRI config is read.
extension PodSandboxSpec {
  /// The request's config, after the checks of its required fields (the messages name the CRI fields).
  static func validated(_ request: Runtime_V1_RunPodSandboxRequest) throws(CrispError) -> PodSandboxSpec {
    guard request.hasConfig else { throw CrispError.invalidArgument("config is required") }
    let metadata = request.config.metadata
    for (field, value) in [("name", metadata.name), ("namespace", metadata.namespace), ("uid", metadata.uid)] where value.isEmpty {
      throw CrispError.invalidArgument("config.metadata.\(field) is required")
    }
    try checkCgroupParent(request.config.linux.cgroupParent)
    return PodSandboxSpec(request.config)
  }

  /// kubelet's cgroup parent is a path below the cgroup mount (`/kubepods/burstable/pod<uid>`) or a systemd
  /// slice (`kubepods-burstable-pod<uid>.slice`); crisp reads stats files under it and hands it to runc. A
  /// `..` (or `.`) part would take those reads, and the pod's cgroup, outside the cgroup filesystem.
  static func checkCgroupParent(_ parent: String) throws(CrispError) {
    guard parent.utf8.count <= 4096 else {
      throw CrispError.invalidArgument("config.linux.cgroup_parent is longer than 4096 bytes")
    }
    guard !parent.utf8.contains(0) else { throw CrispError.invalidArgument("config.linux.cgroup_parent contains a NUL byte") }
    let parts = parent.split(omittingEmptySubsequences: true) { $0 == "/" || $0 == ":" }
    if parts.contains(where: { $0 == ".." || $0 == "." }) {
      throw CrispError.invalidArgument("config.linux.cgroup_parent \"\(parent.prefix(256))\" has a \".\" or \"..\" part")
    }
  }

  /// Every field Runtime uses, unchecked (stored configs were checked when they came in).
  init(_ cri: Runtime_V1_PodSandboxConfig) {
    self.init()
    metadata = PodSandboxMetadata(cri.metadata)
    hostname = cri.hostname
    logDirectory = cri.logDirectory
    if cri.hasDnsConfig {
      dnsConfig = DNSConfig(servers: cri.dnsConfig.servers, searches: cri.dnsConfig.searches, options: cri.dnsConfig.options)
    }
    portMappings = cri.portMappings.map { mapping in
      let proto: String
      switch mapping.protocol {
      case .udp: proto = "udp"
      case .sctp: proto = "sctp"
      default: proto = "tcp"
      }
      return PortMapping(proto: proto, containerPort: mapping.containerPort, hostPort: mapping.hostPort, hostIP: mapping.hostIp)
    }
    labels = cri.labels
    annotations = cri.annotations
    linux.cgroupParent = cri.linux.cgroupParent
    linux.sysctls = cri.linux.sysctls
    linux.securityContext = PodSecurityContext(cri.linux.securityContext)
  }
}

extension PodSandboxMetadata {
  init(_ cri: Runtime_V1_PodSandboxMetadata) {
    self.init(name: cri.name, uid: cri.uid, namespace: cri.namespace, attempt: cri.attempt)
  }

  var cri: Runtime_V1_PodSandboxMetadata {
    .with {
      $0.name = name
      $0.uid = uid
      $0.namespace = namespace
      $0.attempt = attempt
    }
  }
}

extension PodSecurityContext {
  init(_ cri: Runtime_V1_LinuxSandboxSecurityContext) {
    self.init()
    namespaceOptions = NamespaceOptions(cri.namespaceOptions)
    if cri.hasSeccomp { seccomp = SecurityProfile(cri.seccomp) }
    seccompProfilePath = cri.seccompProfilePath
    if cri.hasApparmor { apparmor = SecurityProfile(cri.apparmor) }
    if cri.hasSelinuxOptions { selinuxOptions = SELinuxOptions(cri.selinuxOptions) }
    privileged = cri.privileged
    if cri.hasRunAsUser { runAsUser = cri.runAsUser.value }
    if cri.hasRunAsGroup { runAsGroup = cri.runAsGroup.value }
  }
}
