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
    return PodSandboxSpec(request.config)
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
