public import CDI
public import Config
public import CrispCore
public import PodNetwork
import Foundation
public import Images
public import OCI

/// Builds OCI runtime specs from what kubelet asked for, the image's defaults and the sandbox: a pure
/// function of its inputs (no file system, no kernel), so every rule is unit-tested without root.
public enum SpecBuilder {
  /// Docker's default capability set, which Kubernetes workloads are written against.
  public static let defaultCapabilities = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
  ]

  public static let defaultMaskedPaths = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
  ]

  public static let defaultReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

  /// Where a sandbox's shared files live on the host.
  public struct SandboxPaths: Sendable, Equatable {
    public var hostname: String
    public var hosts: String
    public var resolvConf: String
    /// The pod's /dev/shm (a tmpfs crisp mounted), or nil to use the host's (host IPC).
    public var shm: String?
    /// The pinned network namespace, or nil for host networking.
    public var netns: String?
    /// The pod's own user namespace, nil when the pod runs in the node's.
    public var userNamespace: PodUserNamespace?

    public init(hostname: String, hosts: String, resolvConf: String, shm: String?, netns: String?, userNamespace: PodUserNamespace? = nil) {
      self.hostname = hostname
      self.hosts = hosts
      self.resolvConf = resolvConf
      self.shm = shm
      self.netns = netns
      self.userNamespace = userNamespace
    }
  }

  /// A pinned pod user namespace and the ranges it maps (container 0 is the first host id of each).
  public struct PodUserNamespace: Sendable, Equatable, Codable {
    public var path: String
    public var uids: UserNamespace.Mapping
    public var gids: UserNamespace.Mapping

    public init(path: String, uids: UserNamespace.Mapping, gids: UserNamespace.Mapping) {
      self.path = path
      self.uids = uids
      self.gids = gids
    }
  }

  /// Joins the pod's user namespace first (the runtime joins namespaces in the order given, and the others
  /// belong to it), with its mappings, which runc needs to know who the container's root is on the host.
  static func joinUserNamespace(_ userNamespace: PodUserNamespace?, _ linux: inout OCISpec.Linux) {
    guard let userNamespace else { return }
    linux.namespaces.insert(.init("user", path: userNamespace.path), at: 0)
    linux.uidMappings = [.init(containerID: 0, hostID: userNamespace.uids.hostID, size: userNamespace.uids.size)]
    linux.gidMappings = [.init(containerID: 0, hostID: userNamespace.gids.hostID, size: userNamespace.gids.size)]
  }

  // MARK: Sandbox (pause)

  public static func sandboxSpec(
    id: String, config: PodSandboxSpec, image: ImageConfig, rootfs: String, paths: SandboxPaths,
    cgroupsPath: String, oomScoreAdj: Int, imageName: String = "", podAnnotations: AnnotationPatterns = .none
  ) throws(CrispError) -> OCISpec {
    var spec = OCISpec()
    var process = OCISpec.Process()
    let runtime = image.config ?? ImageConfig.Runtime()
    process.args = (runtime.entrypoint ?? []) + (runtime.cmd ?? [])
    guard !process.args.isEmpty else { throw CrispError.invalidArgument("sandbox image has no entrypoint or command") }
    process.env = runtime.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    process.cwd = runtime.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
    let security = config.linux.securityContext
    let imageUser = try ImageUser.resolve(
      runtime.user ?? "", field: "sandbox image \"\(imageName)\" config.User", accounts: ImageAccountFiles(rootfs: rootfs))
    process.user.uid = imageUser.uid
    process.user.gid = imageUser.gid
    if let uid = security.runAsUser { process.user.uid = try criID(uid, field: "config.linux.security_context.run_as_user") }
    if let gid = security.runAsGroup { process.user.gid = try criID(gid, field: "config.linux.security_context.run_as_group") }
    process.capabilities = OCISpec.Capabilities(all: defaultCapabilities)
    process.noNewPrivileges = true
    process.oomScoreAdj = oomScoreAdj
    spec.process = process
    spec.root = .init(path: rootfs, readonly: true)
    let namespaces = security.namespaceOptions
    if namespaces.network != .node { spec.hostname = config.hostname.isEmpty ? nil : config.hostname }
    // A privileged pod's sysfs is writable: sysfs is one superblock per network namespace, so the pause
    // container's mount decides whether the pod's privileged containers can write it.
    spec.mounts = defaultMounts(shm: paths.shm, privileged: security.privileged)
    var linux = OCISpec.Linux()
    linux.namespaces = [.init("mount")]
    if namespaces.pid != .node { linux.namespaces.append(.init("pid")) }
    if namespaces.ipc != .node { linux.namespaces.append(.init("ipc")) }
    if namespaces.network != .node {
      linux.namespaces.append(.init("uts"))
      linux.namespaces.append(.init("network", path: paths.netns))
    }
    joinUserNamespace(paths.userNamespace, &linux)
    linux.cgroupsPath = cgroupsPath
    linux.sysctl = config.linux.sysctls.isEmpty ? nil : config.linux.sysctls
    linux.maskedPaths = defaultMaskedPaths
    linux.readonlyPaths = defaultReadonlyPaths
    linux.resources = OCISpec.Resources()
    linux.resources?.devices = [.init(allow: false, type: nil, major: nil, minor: nil, access: "rwm")]
    spec.linux = linux
    // Only the annotations the handler allows: runc acts on some (org.systemd.property.*, run.oci.*).
    var annotations = podAnnotations.filter(config.annotations)
    annotations["io.kubernetes.cri.container-type"] = "sandbox"
    annotations["io.kubernetes.cri.sandbox-id"] = id
    annotations["io.kubernetes.cri.sandbox-name"] = config.metadata.name
    annotations["io.kubernetes.cri.sandbox-namespace"] = config.metadata.namespace
    annotations["io.kubernetes.cri.sandbox-uid"] = config.metadata.uid
    annotations["io.kubernetes.cri.sandbox-log-directory"] = config.logDirectory
    spec.annotations = annotations
    return spec
  }

  // MARK: Containers

  /// Everything about the sandbox a container joins.
  public struct SandboxContext: Sendable {
    public var id: String
    public var config: PodSandboxSpec
    /// The pause process, whose namespaces the container joins.
    public var pausePID: Int32
    public var paths: SandboxPaths

    public init(id: String, config: PodSandboxSpec, pausePID: Int32, paths: SandboxPaths) {
      self.id = id
      self.config = config
      self.pausePID = pausePID
      self.paths = paths
    }
  }

  /// A CRI mount after crisp checked its host path (resolved through symlinks) exists.
  public struct ResolvedMount: Sendable, Equatable {
    public var hostPath: String
    public var containerPath: String
    public var readonly: Bool
    public var propagation: MountRequest.Propagation
    /// Read-only all the way down: mounts below the host path are read-only too (`rro`, mount_setattr).
    public var recursiveReadOnly: Bool
    /// Seen through the pod's user namespace (the CRI mount carried the pod's uid/gid mappings).
    public var idmapped: Bool
    /// An image volume: a directory of an image's read-only view, bound read-only, nosuid and nodev.
    public var imageVolume: Bool

    public init(
      hostPath: String, containerPath: String, readonly: Bool, propagation: MountRequest.Propagation, recursiveReadOnly: Bool = false,
      idmapped: Bool = false, imageVolume: Bool = false
    ) {
      self.recursiveReadOnly = recursiveReadOnly
      self.idmapped = idmapped
      self.imageVolume = imageVolume
      self.hostPath = hostPath
      self.containerPath = containerPath
      self.readonly = readonly
      self.propagation = propagation
    }
  }

  /// The process user: uid, gid and supplementary groups already resolved (names are looked up in the
  /// image's /etc/passwd by the caller).
  public struct ResolvedUser: Sendable, Equatable, Codable {
    public var uid: UInt32
    public var gid: UInt32
    public var additionalGids: [UInt32]

    public init(uid: UInt32, gid: UInt32, additionalGids: [UInt32] = []) {
      self.uid = uid
      self.gid = gid
      self.additionalGids = additionalGids
    }

    /// The groups the process is in, as `id -G` shows them and kubelet reports a container's
    /// supplemental groups: the primary gid first, then the supplementary ones, each once.
    public var processGroups: [UInt32] {
      var seen: Set<UInt32> = []
      return ([gid] + additionalGids).filter { seen.insert($0).inserted }
    }
  }

  /// A container's OCI spec: its process, mounts, namespaces and limits, and the annotations its handler
  /// lets through. Pure: everything it needs is an argument, so it is unit-tested without a host.
  public static func containerSpec(
    id: String, config: ContainerSpec, image: ImageConfig, imageName: String, rootfs: String,
    sandbox: SandboxContext, user: ResolvedUser, mounts: [ResolvedMount], cgroupsPath: String, oomScoreAdj: Int?,
    devices: [(node: OCISpec.Device, rule: OCISpec.DeviceRule)] = [], hostDevices: [OCISpec.Device] = [],
    hostCapabilities: [String] = LinuxCapabilities.all, targetNamespace: String? = nil,
    podAnnotations: AnnotationPatterns = .none, containerAnnotations: AnnotationPatterns = .none, cdi: CDIEdits? = nil,
    deviceOwnershipFromSecurityContext: Bool = false
  ) throws(CrispError) -> OCISpec {
    var spec = OCISpec()
    spec.process = try containerProcess(config, image: image, user: user, oomScoreAdj: oomScoreAdj, hostCapabilities: hostCapabilities)
    spec.root = .init(path: rootfs, readonly: config.linux.securityContext.readonlyRootfs ? true : nil)
    let (specMounts, rootfsPropagation) = try containerMounts(config, sandbox: sandbox, mounts: mounts)
    spec.mounts = specMounts
    var linux = try containerNamespaces(config, sandbox: sandbox, targetNamespace: targetNamespace)
    linux.cgroupsPath = cgroupsPath
    linux.rootfsPropagation = rootfsPropagation
    confine(&linux, config, devices: devices, hostDevices: hostDevices)
    spec.linux = linux
    spec.annotations = annotations(
      config, sandbox: sandbox, imageName: imageName, podAnnotations: podAnnotations, containerAnnotations: containerAnnotations)
    // containerd's device_ownership_from_security_context: the nodes belong to the user the container runs
    // as, so a non-root container can open them.
    let owner = deviceOwnershipFromSecurityContext ? (uid: user.uid, gid: user.gid) : nil
    if let owner, var nodes = spec.linux?.devices {
      for index in nodes.indices {
        nodes[index].uid = owner.uid
        nodes[index].gid = owner.gid
      }
      spec.linux?.devices = nodes
    }
    // CDI edits last, as the CDI spec orders them: they may replace what crisp set (an env variable, a
    // mount or device node at the same path).
    cdi?.apply(to: &spec, owner: owner)
    return spec
  }

  /// The container's process: command, environment, working directory, user, terminal, capabilities.
  /// Privileged (only inside a privileged sandbox, checked before this): every capability.
  static func containerProcess(
    _ config: ContainerSpec, image: ImageConfig, user: ResolvedUser, oomScoreAdj: Int?, hostCapabilities: [String]
  ) throws(CrispError) -> OCISpec.Process {
    var process = OCISpec.Process()
    let runtime = image.config ?? ImageConfig.Runtime()
    process.args = try arguments(config: config, image: runtime)
    process.env = environment(image: runtime.env ?? [], cri: config.envs.map { ($0.key, $0.value) })
    process.cwd = config.workingDir.isEmpty ? (runtime.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/") : config.workingDir
    guard process.cwd.hasPrefix("/") else { throw CrispError.invalidArgument("working_dir \"\(process.cwd)\" must be an absolute path") }
    process.user.uid = user.uid
    process.user.gid = user.gid
    process.user.additionalGids = user.additionalGids.isEmpty ? nil : user.additionalGids
    process.terminal = config.tty ? true : nil
    let security = config.linux.securityContext
    process.capabilities =
      security.privileged
      ? OCISpec.Capabilities(all: hostCapabilities) : try capabilities(security.capabilities, bounding: hostCapabilities)
    process.noNewPrivileges = security.noNewPrivs
    process.oomScoreAdj = oomScoreAdj
    return process
  }

  /// The default mounts a volume does not replace, the pod's hostname/hosts/resolv.conf, then the volumes;
  /// with the root filesystem's propagation the volumes need (shared for bidirectional, slave for
  /// host-to-container).
  static func containerMounts(
    _ config: ContainerSpec, sandbox: SandboxContext, mounts: [ResolvedMount]
  ) throws(CrispError) -> ([OCISpec.Mount], rootfsPropagation: String?) {
    let security = config.linux.securityContext
    let overridden = Set(mounts.map(\.containerPath))
    var specMounts = defaultMounts(shm: sandbox.paths.shm, privileged: security.privileged).filter { !overridden.contains($0.destination) }
    let files: [(String, String)] = [
      ("/etc/hostname", sandbox.paths.hostname), ("/etc/hosts", sandbox.paths.hosts), ("/etc/resolv.conf", sandbox.paths.resolvConf),
    ]
    for (destination, source) in files where !overridden.contains(destination) {
      specMounts.append(
        .init(destination: destination, type: "bind", source: source, options: ["rbind", "rprivate", security.readonlyRootfs ? "ro" : "rw"]))
    }
    var rootfsPropagation: String?
    for mount in mounts {
      guard mount.containerPath.hasPrefix("/") else {
        throw CrispError.invalidArgument("mounts: container_path \"\(mount.containerPath)\" must be an absolute path")
      }
      var options = ["rbind", mount.recursiveReadOnly ? "rro" : (mount.readonly || mount.imageVolume ? "ro" : "rw")]
      if mount.imageVolume { options += ["nosuid", "nodev"] }
      switch mount.propagation {
      case .bidirectional:
        options.append("rshared")
        rootfsPropagation = "rshared"
      case .hostToContainer:
        options.append("rslave")
        if rootfsPropagation == nil { rootfsPropagation = "rslave" }
      default:
        options.append("rprivate")
      }
      specMounts.append(.init(destination: mount.containerPath, type: "bind", source: mount.hostPath, options: options))
    }
    return (specMounts, rootfsPropagation)
  }

  /// The namespaces: its own mount namespace, the pod's network, UTS and IPC (through the pause process),
  /// the PID namespace its mode asks for, and the pod's user namespace.
  static func containerNamespaces(
    _ config: ContainerSpec, sandbox: SandboxContext, targetNamespace: String?
  ) throws(CrispError) -> OCISpec.Linux {
    var linux = OCISpec.Linux()
    let namespaces = config.linux.securityContext.namespaceOptions
    let pause = "/proc/\(sandbox.pausePID)/ns"
    linux.namespaces = [.init("mount")]
    if sandbox.paths.netns != nil {
      linux.namespaces.append(.init("network", path: sandbox.paths.netns))
      linux.namespaces.append(.init("uts", path: "\(pause)/uts"))
    }
    if namespaces.ipc != .node { linux.namespaces.append(.init("ipc", path: "\(pause)/ipc")) }
    switch namespaces.pid {
    case .pod: linux.namespaces.append(.init("pid", path: "\(pause)/pid"))
    case .container: linux.namespaces.append(.init("pid"))
    case .target:
      guard let targetNamespace else {
        throw CrispError.invalidArgument("linux.security_context.namespace_options.target_id: no running target container")
      }
      linux.namespaces.append(.init("pid", path: targetNamespace))
    default: break
    }
    joinUserNamespace(sandbox.paths.userNamespace, &linux)
    return linux
  }

  /// Limits, masked and read-only paths, and devices. Privileged: the host's devices, writable sysfs and
  /// cgroupfs, nothing masked.
  static func confine(
    _ linux: inout OCISpec.Linux, _ config: ContainerSpec, devices: [(node: OCISpec.Device, rule: OCISpec.DeviceRule)],
    hostDevices: [OCISpec.Device]
  ) {
    let security = config.linux.securityContext
    let privileged = security.privileged
    linux.resources = resources(config.linux.resources)
    if privileged {
      linux.maskedPaths = []
      linux.readonlyPaths = []
    } else {
      linux.maskedPaths = security.maskedPaths.isEmpty ? defaultMaskedPaths : security.maskedPaths
      linux.readonlyPaths = security.readonlyPaths.isEmpty ? defaultReadonlyPaths : security.readonlyPaths
    }
    var nodes = privileged ? hostDevices : []
    for device in devices where !nodes.contains(where: { $0.path == device.node.path }) { nodes.append(device.node) }
    linux.devices = nodes.isEmpty ? nil : nodes
    if privileged {
      linux.resources?.devices = [.init(allow: true, type: nil, major: nil, minor: nil, access: "rwm")]
    } else {
      linux.resources?.devices?.append(contentsOf: devices.map(\.rule))
    }
  }

  /// The pod's and the container's annotations the handler allows (as containerd's pod_annotations and
  /// container_annotations), then crisp's own.
  static func annotations(
    _ config: ContainerSpec, sandbox: SandboxContext, imageName: String, podAnnotations: AnnotationPatterns,
    containerAnnotations: AnnotationPatterns
  ) -> [String: String] {
    var annotations = podAnnotations.filter(sandbox.config.annotations)
    annotations.merge(containerAnnotations.filter(config.annotations)) { _, container in container }
    annotations["io.kubernetes.cri.container-type"] = "container"
    annotations["io.kubernetes.cri.container-name"] = config.metadata.name
    annotations["io.kubernetes.cri.sandbox-id"] = sandbox.id
    annotations["io.kubernetes.cri.sandbox-name"] = sandbox.config.metadata.name
    annotations["io.kubernetes.cri.sandbox-namespace"] = sandbox.config.metadata.namespace
    annotations["io.kubernetes.cri.sandbox-uid"] = sandbox.config.metadata.uid
    annotations["io.kubernetes.cri.image-name"] = imageName
    return annotations
  }

  /// kubelet's rules: `command` replaces the image's entrypoint (and then only CRI `args` follow);
  /// otherwise the entrypoint runs with CRI `args`, or the image's `Cmd` when there are none.
  public static func arguments(config: ContainerSpec, image: ImageConfig.Runtime) throws(CrispError) -> [String] {
    let result: [String]
    if !config.command.isEmpty {
      result = config.command + config.args
    } else {
      result = (image.entrypoint ?? []) + (config.args.isEmpty ? (image.cmd ?? []) : config.args)
    }
    guard let first = result.first, !first.isEmpty else {
      throw CrispError.invalidArgument("command: neither the container config nor the image says what to run (no command, args, entrypoint or cmd)")
    }
    return result
  }

  /// Image environment, then the CRI's: a CRI variable replaces the image's of the same name.
  public static func environment(image: [String], cri: [(String, String)]) -> [String] {
    var order: [String] = []
    var values: [String: String] = [:]
    for entry in image {
      let name = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry
      if values[name] == nil { order.append(name) }
      values[name] = entry
    }
    for (key, value) in cri {
      if values[key] == nil { order.append(key) }
      values[key] = "\(key)=\(value)"
    }
    return order.compactMap { values[$0] }
  }

  /// A CRI uid or gid (int64 on the wire): negative or past 2^32-1 is refused, not clamped (a clamped -1
  /// would be root).
  public static func criID(_ value: Int64, field: String) throws(CrispError) -> UInt32 {
    guard let id = UInt32(exactly: value) else {
      throw CrispError.invalidArgument("\(field) \(value): out of range (0 to \(UInt32.max))")
    }
    return id
  }

  /// The default set, with CRI add/drop applied (`ALL` on either side). `ALL` added means every capability
  /// of `bounding`, crisp's own bounding set (as containerd reads it): runc cannot give a container what the
  /// node's root does not have, and asking fails the start with "unable to apply caps". A capability added
  /// by name that the node lacks is refused here with that reason.
  public static func capabilities(_ requested: CapabilityRequest, bounding: [String] = LinuxCapabilities.bounding) throws(CrispError)
    -> OCISpec.Capabilities
  {
    func normalize(_ name: String) -> String {
      let upper = name.uppercased()
      return upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
    }
    let field = "linux.security_context.capabilities.add_capabilities"
    var set = defaultCapabilities.filter { bounding.contains($0) }
    if requested.dropCapabilities.contains(where: { $0.uppercased() == "ALL" }) { set = [] }
    if requested.addCapabilities.contains(where: { $0.uppercased() == "ALL" }) { set = bounding }
    for name in requested.addCapabilities where name.uppercased() != "ALL" {
      let cap = normalize(name)
      guard LinuxCapabilities.all.contains(cap) else {
        throw CrispError.invalidArgument("\(field): unknown capability \"\(name)\"")
      }
      guard bounding.contains(cap) else {
        throw CrispError.failedPrecondition("\(field): \(cap) is not in this node's capability bounding set, so no container here can have it")
      }
      if !set.contains(cap) { set.append(cap) }
    }
    for name in requested.dropCapabilities where name.uppercased() != "ALL" {
      set.removeAll { $0 == normalize(name) }
    }
    var capabilities = OCISpec.Capabilities(all: set)
    // Ambient capabilities stay empty: a non-root process must not gain privileges it was not given.
    capabilities.ambient = []
    capabilities.inheritable = []
    return capabilities
  }

  static func resources(_ r: ContainerResources) -> OCISpec.Resources {
    var resources = OCISpec.Resources()
    resources.devices = [.init(allow: false, type: nil, major: nil, minor: nil, access: "rwm")]
    var memory = OCISpec.Memory()
    if r.memoryLimitInBytes > 0 { memory.limit = r.memoryLimitInBytes }
    // -1 is "unlimited swap" in both CRI and OCI, so it passes through as is.
    if r.memorySwapLimitInBytes > 0 || r.memorySwapLimitInBytes == -1 { memory.swap = r.memorySwapLimitInBytes }
    if memory != OCISpec.Memory() { resources.memory = memory }
    var cpu = OCISpec.CPU()
    if r.cpuShares > 0 { cpu.shares = UInt64(r.cpuShares) }
    if r.cpuQuota > 0 { cpu.quota = r.cpuQuota }
    if r.cpuPeriod > 0 { cpu.period = UInt64(r.cpuPeriod) }
    if !r.cpusetCpus.isEmpty { cpu.cpus = r.cpusetCpus }
    if !r.cpusetMems.isEmpty { cpu.mems = r.cpusetMems }
    if cpu != OCISpec.CPU() { resources.cpu = cpu }
    if !r.hugepageLimits.isEmpty { resources.hugepageLimits = r.hugepageLimits.map { .init(pageSize: $0.pageSize, limit: $0.limit) } }
    if !r.unified.isEmpty { resources.unified = r.unified }
    return resources
  }

  /// proc, dev, devpts, mqueue, sysfs and cgroup (read-only), and the pod's /dev/shm.
  static func defaultMounts(shm: String?, privileged: Bool) -> [OCISpec.Mount] {
    var mounts: [OCISpec.Mount] = [
      .init(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
      .init(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
      .init(
        destination: "/dev/pts", type: "devpts", source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
      .init(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
      .init(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", privileged ? "rw" : "ro"]),
      .init(
        destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro"]),
    ]
    if let shm {
      mounts.append(.init(destination: "/dev/shm", type: "bind", source: shm, options: ["rbind", "rprivate", "rw"]))
    } else {
      mounts.append(.init(destination: "/dev/shm", type: "bind", source: "/dev/shm", options: ["rbind", "rprivate", "rw"]))
    }
    return mounts
  }
}

extension SpecBuilder.PodUserNamespace {
  /// How the pod's root filesystems are shifted: the container's root is the first host id of each range.
  public var shift: Snapshotter.IDShift { .init(userns: path, rootUID: uids.hostID, rootGID: gids.hostID) }
}
