import CRIAPI
import CrispCore
import Runtime

/// CreateContainer's config as Runtime's ``ContainerSpec``, and the parts statuses report back.
extension ContainerSpec {
  /// The request's config, after the checks of its required fields (the messages name the CRI fields).
  static func validated(_ request: Runtime_V1_CreateContainerRequest) throws(CrispError) -> ContainerSpec {
    guard !request.podSandboxID.isEmpty else { throw CrispError.invalidArgument("pod_sandbox_id is required") }
    guard request.hasConfig else { throw CrispError.invalidArgument("config is required") }
    guard !request.config.metadata.name.isEmpty else { throw CrispError.invalidArgument("config.metadata.name is required") }
    guard !request.config.image.image.isEmpty else { throw CrispError.invalidArgument("config.image.image is required") }
    return ContainerSpec(request.config)
  }

  /// Every field Runtime uses, unchecked (stored configs were checked when they came in).
  init(_ cri: Runtime_V1_ContainerConfig) {
    self.init()
    metadata = ContainerMetadata(name: cri.metadata.name, attempt: cri.metadata.attempt)
    image = ImageSpec(cri.image)
    command = cri.command
    args = cri.args
    workingDir = cri.workingDir
    envs = cri.envs.map { EnvironmentVariable(key: $0.key, value: $0.value) }
    mounts = cri.mounts.map(MountRequest.init)
    devices = cri.devices.map { DeviceRequest(containerPath: $0.containerPath, hostPath: $0.hostPath, permissions: $0.permissions) }
    cdiDevices = cri.cdiDevices.map(\.name)
    labels = cri.labels
    annotations = cri.annotations
    logPath = cri.logPath
    stdin = cri.stdin
    stdinOnce = cri.stdinOnce
    tty = cri.tty
    linux.resources = ContainerResources(cri.linux.resources)
    linux.securityContext = ContainerSecurityContext(cri.linux.securityContext)
    stopSignal = StopSignal(cri.stopSignal)
  }
}

extension ContainerMetadata {
  var cri: Runtime_V1_ContainerMetadata {
    .with {
      $0.name = name
      $0.attempt = attempt
    }
  }
}

extension ImageSpec {
  init(_ cri: Runtime_V1_ImageSpec) {
    self.init(image: cri.image)
    annotations = cri.annotations
    userSpecifiedImage = cri.userSpecifiedImage
    runtimeHandler = cri.runtimeHandler
    imageRef = cri.imageRef
  }

  var cri: Runtime_V1_ImageSpec {
    .with {
      $0.image = image
      $0.annotations = annotations
      $0.userSpecifiedImage = userSpecifiedImage
      $0.runtimeHandler = runtimeHandler
      $0.imageRef = imageRef
    }
  }
}

extension MountRequest {
  init(_ cri: Runtime_V1_Mount) {
    self.init(containerPath: cri.containerPath, hostPath: cri.hostPath, readonly: cri.readonly)
    selinuxRelabel = cri.selinuxRelabel
    propagation = Propagation(cri.propagation)
    uidMappings = cri.uidMappings.map(IDMapping.init)
    gidMappings = cri.gidMappings.map(IDMapping.init)
    recursiveReadOnly = cri.recursiveReadOnly
    if cri.hasImage { image = ImageSpec(cri.image) }
    imageSubPath = cri.imageSubPath
  }
}

extension MountRequest.Propagation {
  init(_ cri: Runtime_V1_MountPropagation) {
    switch cri {
    case .propagationPrivate: self = .private
    case .propagationHostToContainer: self = .hostToContainer
    case .propagationBidirectional: self = .bidirectional
    case .UNRECOGNIZED(let value): self = .unrecognized(value)
    }
  }

  var cri: Runtime_V1_MountPropagation {
    switch self {
    case .private: return .propagationPrivate
    case .hostToContainer: return .propagationHostToContainer
    case .bidirectional: return .propagationBidirectional
    case .unrecognized(let value): return .UNRECOGNIZED(value)
    }
  }
}

extension ContainerSecurityContext {
  init(_ cri: Runtime_V1_LinuxContainerSecurityContext) {
    self.init()
    capabilities = CapabilityRequest(
      addCapabilities: cri.capabilities.addCapabilities, dropCapabilities: cri.capabilities.dropCapabilities,
      addAmbientCapabilities: cri.capabilities.addAmbientCapabilities)
    privileged = cri.privileged
    namespaceOptions = NamespaceOptions(cri.namespaceOptions)
    if cri.hasSelinuxOptions { selinuxOptions = SELinuxOptions(cri.selinuxOptions) }
    if cri.hasRunAsUser { runAsUser = cri.runAsUser.value }
    if cri.hasRunAsGroup { runAsGroup = cri.runAsGroup.value }
    runAsUsername = cri.runAsUsername
    readonlyRootfs = cri.readonlyRootfs
    supplementalGroups = cri.supplementalGroups
    mergeImageGroups = cri.supplementalGroupsPolicy == .merge
    noNewPrivs = cri.noNewPrivs
    maskedPaths = cri.maskedPaths
    readonlyPaths = cri.readonlyPaths
    if cri.hasSeccomp { seccomp = SecurityProfile(cri.seccomp) }
    if cri.hasApparmor { apparmor = SecurityProfile(cri.apparmor) }
    apparmorProfile = cri.apparmorProfile
    seccompProfilePath = cri.seccompProfilePath
  }
}

extension StopSignal {
  init(_ cri: Runtime_V1_Signal) {
    switch cri {
    case .runtimeDefault: self = .runtimeDefault
    case .UNRECOGNIZED(let value): self = .unrecognized(value)
    default: self = .named(Self.signalName(cri))
    }
  }

  var cri: Runtime_V1_Signal {
    switch self {
    case .runtimeDefault: return .runtimeDefault
    case .unrecognized(let value): return .UNRECOGNIZED(value)
    case .named(let name): return Self.cri(named: name)
    }
  }

  /// The CRI signal for a `SIG<NAME>` (`SIGRTMIN+3` included); unknown names are the runtime default.
  static func cri(named name: String) -> Runtime_V1_Signal { byName[name] ?? .runtimeDefault }

  /// `SIGTERM`, `SIGRTMIN+3`, `SIGRTMAX-1`: the CRI enum's names spelt as signal names are.
  private static func signalName(_ cri: Runtime_V1_Signal) -> String {
    let upper = String(describing: cri).uppercased()
    if let range = upper.range(of: "RTMINPLUS") { return upper[..<range.lowerBound] + "RTMIN+" + upper[range.upperBound...] }
    if let range = upper.range(of: "RTMAXMINUS") { return upper[..<range.lowerBound] + "RTMAX-" + upper[range.upperBound...] }
    return upper
  }

  /// The CRI's signals by the names ``init(_:)`` gives them.
  private static let byName: [String: Runtime_V1_Signal] = Dictionary(
    Runtime_V1_Signal.allCases.map { (signalName($0), $0) }, uniquingKeysWith: { first, _ in first })
}
