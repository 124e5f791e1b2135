import CrispCore
import PodNetwork
import OCI

/// Refuses, before anything is made, the security settings crisp cannot honour here, so a pod that asked
/// for confinement never runs without it. Each refusal names the field and says why.
enum SecurityChecks {
  /// Sysctls a pod may set: those of the IPC and network namespaces it owns (Kubernetes' rule). Anything
  /// else would change the node.
  static func checkSysctls(_ sysctls: [String: String], hostNetwork: Bool, hostIPC: Bool) throws(CrispError) {
    for name in sysctls.keys.sorted() {
      let normalized = name.replacingOccurrences(of: "/", with: ".")
      let ipc =
        [
          "kernel.shmmax", "kernel.shmall", "kernel.shmmni", "kernel.shm_rmid_forced", "kernel.msgmax", "kernel.msgmnb",
          "kernel.msgmni", "kernel.sem",
        ].contains(normalized) || normalized.hasPrefix("fs.mqueue.")
      let net = normalized.hasPrefix("net.")
      let field = "config.linux.sysctls[\"\(name)\"]"
      if ipc {
        if hostIPC { throw CrispError.invalidArgument("\(field): an IPC sysctl cannot be set for a pod in the host's IPC namespace") }
      } else if net {
        if hostNetwork { throw CrispError.invalidArgument("\(field): a network sysctl cannot be set for a pod in the host's network namespace") }
      } else {
        throw CrispError.invalidArgument("\(field): not a namespaced sysctl (only kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* and net.* are)")
      }
    }
  }

  /// The pod-level settings.
  static func checkPod(_ config: PodSandboxSpec) throws(CrispError) {
    let security = config.linux.securityContext
    let namespaces = security.namespaceOptions
    try checkSysctls(config.linux.sysctls, hostNetwork: namespaces.network == .node, hostIPC: namespaces.ipc == .node)
    _ = try podUserNamespace(config)
    try checkSELinux(security.selinuxOptions, field: "config.linux.security_context.selinux_options")
  }

  /// The container-level settings, in the context of its sandbox.
  static func checkContainer(_ config: ContainerSpec, sandbox: PodSandboxSpec) throws(CrispError) {
    let security = config.linux.securityContext
    if security.privileged && !sandbox.linux.securityContext.privileged {
      throw CrispError.invalidArgument(
        "config.linux.security_context.privileged: a privileged container needs a privileged sandbox (its pod's security_context.privileged is false)"
      )
    }
    try checkContainerUserNamespace(security.namespaceOptions, pod: try podUserNamespace(sandbox))
    if security.privileged, try podUserNamespace(sandbox) != nil {
      throw CrispError.invalidArgument("config.linux.security_context.privileged: a privileged container cannot run in a user-namespaced pod")
    }
    try checkSELinux(security.selinuxOptions, field: "config.linux.security_context.selinux_options")
  }

  /// The pod's user namespace mapping, nil for the node's user namespace. crisp takes what kubelet sends:
  /// mode POD with one uid and one gid range, each starting at container id 0 (the container's root is a
  /// host id of the range). Everything else is refused, naming the field.
  static func podUserNamespace(_ config: PodSandboxSpec) throws(CrispError) -> (uids: UserNamespace.Mapping, gids: UserNamespace.Mapping)? {
    let field = "config.linux.security_context.namespace_options.userns_options"
    let namespaces = config.linux.securityContext.namespaceOptions
    guard let options = namespaces.usernsOptions else { return nil }
    switch options.mode {
    case .node:
      guard options.uids.isEmpty && options.gids.isEmpty else {
        throw CrispError.invalidArgument("\(field): mappings are given with mode NODE (the node's user namespace has no mappings of its own)")
      }
      return nil
    case .pod:
      break
    case .container, .target:
      throw CrispError.invalidArgument("\(field).mode: \(options.mode) is not supported for a pod's user namespace; use POD or NODE")
    case .unrecognized(let value):
      throw CrispError.invalidArgument("\(field).mode: unknown mode \(value)")
    }
    func mapping(_ list: [IDMapping], _ name: String) throws(CrispError) -> UserNamespace.Mapping {
      guard list.count == 1, let only = list.first else {
        throw CrispError.invalidArgument("\(field).\(name): exactly one mapping is supported, got \(list.count)")
      }
      guard only.containerID == 0 else {
        throw CrispError.invalidArgument("\(field).\(name)[0].container_id: must be 0 (the container's root must be mapped), got \(only.containerID)")
      }
      guard only.length > 0 else { throw CrispError.invalidArgument("\(field).\(name)[0].length: must be positive") }
      guard only.hostID > 0 else {
        throw CrispError.invalidArgument("\(field).\(name)[0].host_id: 0 would make the container's root the node's root")
      }
      guard UInt64(only.hostID) + UInt64(only.length) <= UInt64(UInt32.max) else {
        throw CrispError.invalidArgument("\(field).\(name)[0]: host_id + length passes the largest id")
      }
      return UserNamespace.Mapping(hostID: only.hostID, size: only.length)
    }
    let uids = try mapping(options.uids, "uids")
    let gids = try mapping(options.gids, "gids")
    for (mode, name) in [(namespaces.network, "network"), (namespaces.pid, "pid"), (namespaces.ipc, "ipc")] where mode == .node {
      throw CrispError.invalidArgument("\(field): a user-namespaced pod cannot use the node's \(name) namespace (namespace_options.\(name) is NODE)")
    }
    if config.linux.securityContext.privileged {
      throw CrispError.invalidArgument("config.linux.security_context.privileged: a privileged pod cannot have its own user namespace")
    }
    return (uids, gids)
  }

  /// Whether `list` is exactly the pod's range: one mapping, from container id 0, with its host id and size.
  static func isPodMapping(_ list: [IDMapping], _ mapping: UserNamespace.Mapping) -> Bool {
    guard list.count == 1, let only = list.first else { return false }
    return only.containerID == 0 && only.hostID == mapping.hostID && only.length == mapping.size
  }

  /// A container follows its pod: the same mapping in mode POD, or no options at all.
  static func checkContainerUserNamespace(
    _ namespaces: NamespaceOptions, pod: (uids: UserNamespace.Mapping, gids: UserNamespace.Mapping)?
  ) throws(CrispError) {
    let field = "config.linux.security_context.namespace_options.userns_options"
    guard let options = namespaces.usernsOptions else { return }
    switch options.mode {
    case .node:
      guard pod == nil else { throw CrispError.invalidArgument("\(field).mode: NODE in a pod that has its own user namespace") }
    case .pod:
      guard let pod else { throw CrispError.invalidArgument("\(field).mode: POD, but the pod sandbox runs in the node's user namespace") }
      guard options.uids.isEmpty || isPodMapping(options.uids, pod.uids), options.gids.isEmpty || isPodMapping(options.gids, pod.gids) else {
        throw CrispError.invalidArgument("\(field): the container's mappings differ from its pod's")
      }
    case .container, .target:
      throw CrispError.invalidArgument("\(field).mode: \(options.mode) is not supported; a container shares its pod's user namespace (POD)")
    case .unrecognized(let value):
      throw CrispError.invalidArgument("\(field).mode: unknown mode \(value)")
    }
  }

  static func checkSELinux(_ options: SELinuxOptions?, field: String) throws(CrispError) {
    guard let options, !(options.user.isEmpty && options.role.isEmpty && options.type.isEmpty && options.level.isEmpty) else { return }
    let reason = Host.selinuxEnabled ? "crisp does not apply SELinux labels yet" : "SELinux is not enabled on this node"
    throw CrispError.invalidArgument("\(field): \(reason)")
  }
}
