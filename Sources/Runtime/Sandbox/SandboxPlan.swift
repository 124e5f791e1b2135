public import CrispCore
import OCI
import PodNetwork
import OCI

/// What RunPodSandbox will make, worked out and checked before anything exists: a request that fails here
/// leaves nothing behind, not even a name reservation.
struct SandboxPlan: Sendable {
  var id: String
  var config: PodSandboxSpec
  /// The config as kubelet sent it, kept in the record for PodSandboxStatus.
  var storedConfig: [UInt8]
  var runtime: any ContainerRuntime
  /// The pod's own user namespace mappings; nil for the node's.
  var userMapping: (uids: UserNamespace.Mapping, gids: UserNamespace.Mapping)?
  var seccomp: OCISpec.Seccomp?
  /// The pause container's AppArmor profile: the pod's.
  var appArmor: AppArmorChoice
  var hostNetwork: Bool
  /// The CNI request (netns filled in later); nil for a host-network pod.
  var networkRequest: PodNetworkRequest?
  /// `name_namespace_uid_attempt`, unique among sandboxes.
  var reservedName: String
  /// Whether the pod's IPC namespace is its own (then it gets a /dev/shm of its own).
  var ownIPC: Bool { config.linux.securityContext.namespaceOptions.ipc != .node }
}

extension RuntimeManager {
  /// Checks a RunPodSandbox request (its required fields were checked by CRIServer) and decides what to
  /// make; no side effects.
  func planSandbox(_ config: PodSandboxSpec, storedConfig: [UInt8], handler: String) throws(CrispError) -> SandboxPlan {
    let metadata = config.metadata
    let runtime = try runtime(for: handler)
    try SecurityChecks.checkPod(config)
    let userMapping = try SecurityChecks.podUserNamespace(config)
    if userMapping != nil, !supportsUserNamespaces(runtime.handler) {
      throw CrispError.invalidArgument(
        "config.linux.security_context.namespace_options.userns_options: runtime handler \"\(runtime.handler)\" cannot run user-namespaced pods on this node (Status does not advertise it: \(userNamespaceProblem(runtime.handler) ?? "unknown"))"
      )
    }
    let podSecurity = config.linux.securityContext
    let seccomp = try SeccompPolicy.filter(
      profile: podSecurity.seccomp, legacyPath: podSecurity.seccompProfilePath, privileged: podSecurity.privileged,
      capabilities: SpecBuilder.defaultCapabilities, field: "config.linux.security_context")
    let appArmor = try self.appArmor.choose(
      podSecurity.apparmor, legacyName: "", privileged: podSecurity.privileged, field: "config.linux.security_context")
    let id = Self.newID()
    let hostNetwork = podSecurity.namespaceOptions.network == .node
    var networkRequest: PodNetworkRequest?
    if !hostNetwork {
      // Refused before anything is made: a network that is not ready, or pod input the plugins cannot take.
      try host.network.requireReady()
      let request = Self.networkRequest(config, id: id)
      _ = try PodNetworks.runtimeConfig(for: request, podCIDRs: [])
      networkRequest = request
    }
    return SandboxPlan(
      id: id, config: config, storedConfig: storedConfig, runtime: runtime, userMapping: userMapping, seccomp: seccomp, appArmor: appArmor,
      hostNetwork: hostNetwork,
      networkRequest: networkRequest, reservedName: "\(metadata.name)_\(metadata.namespace)_\(metadata.uid)_\(metadata.attempt)")
  }

  /// The pod's network request from its sandbox config (the netns path is filled in once it exists).
  static func networkRequest(_ config: PodSandboxSpec, id: String) -> PodNetworkRequest {
    PodNetworkRequest(
      sandboxID: id, podName: config.metadata.name, podNamespace: config.metadata.namespace, podUID: config.metadata.uid, netns: "",
      portMappings: config.portMappings.map { mapping in
        .init(hostPort: Int(mapping.hostPort), containerPort: Int(mapping.containerPort), proto: mapping.proto, hostIP: mapping.hostIP)
      },
      dnsServers: config.dnsConfig?.servers ?? [], dnsSearches: config.dnsConfig?.searches ?? [], dnsOptions: config.dnsConfig?.options ?? [],
      annotations: config.annotations, cgroupParent: config.linux.cgroupParent)
  }
}
