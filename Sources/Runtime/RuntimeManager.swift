public import CDI
public import Config
import CrispCore
import Foundation
import Glibc
public import Synchronization
public import Images
public import Logging
public import PodNetwork
public import Store
import OCI

/// Pod sandboxes and containers on an OCI runtime: lifecycle, records, and recovery after a restart.
///
/// Every create records the object as `creating` before its first side effect and undoes its steps in
/// reverse on failure; a daemon killed half way leaves a `creating` record that start-up recovery rolls back.
public final class RuntimeManager: Sendable {
  public let config: CrispConfig
  public let store: Store
  public let images: ImageManager
  public let cgroups: Cgroups
  /// Stats passes read cgroups through this, which keeps their counter files open between passes.
  let cgroupCounters: CgroupCounters
  /// What the lifecycle does to the host (shims, CNI, namespaces, mounts, root filesystems, the clock).
  public let host: HostServices
  /// Where each object's files live under root and state.
  public let paths: RuntimePaths
  /// The AppArmor profile each pod and container runs under, and crisp's default profile kept loaded.
  public let appArmor: AppArmorProfiles
  /// The pod networks (CNI) and the watch on their configuration.
  public let networks: PodNetworks
  /// The node's CDI devices (`cdi.spec_dirs`), resolved in CreateContainer's checks.
  public let cdi: CDIRegistry
  /// The CRI wire form of what records keep verbatim (see ``RecordCodec``).
  public let codec: any RecordCodec
  /// The node's pod CIDRs, as kubelet last reported them (UpdateRuntimeConfig); passed to IPAM plugins
  /// that take `ipRanges`.
  public let podCIDRs = Mutex<[String]>([])
  let logger: Logger
  let locks = KeyedLocks()
  /// Previous CPU readings and measured writable layers, for stats.
  let statsMemory = StatsMemory()
  /// How each ready pod's interfaces map to host veth peers, so pod network stats come from one host link
  /// dump per call instead of entering every pod's namespace.
  public let interfaceCounters = PodInterfaceCounters()
  /// Lifecycle events for GetContainerEvents subscribers.
  public let events = ContainerEventBus()
  /// Running containers whose exit is yet to be published.
  let exitWatch = ExitWatch()
  /// Which ready sandboxes' pause containers may have exited since the last list (as ``ExitWatch/signals``
  /// for containers): a sandbox not watched (recovered after a restart, say) is looked at every time.
  let sandboxExits = ExitSignals()
  /// Handlers whose runtime binary exists, by name.
  public let runtimes: [String: any ContainerRuntime]
  /// Handlers whose runtime and kernel make recursive read-only mounts (found at start-up).
  private let recursiveReadOnly = Mutex<Set<String>>([])
  public func supportsRecursiveReadOnly(_ handler: String) -> Bool { recursiveReadOnly.withLock { $0.contains(handler) } }
  /// Handlers that ran a user-namespaced probe container on an idmapped root filesystem at start-up, and
  /// why none did when that is so (kernel without idmapped overlay layers, say).
  private let userNamespaces = Mutex<[String: String?]>([:])
  public func supportsUserNamespaces(_ handler: String) -> Bool { userNamespaces.withLock { $0[handler].map { $0 == nil } ?? false } }
  /// Why `handler` cannot run user-namespaced pods; nil when it can.
  public func userNamespaceProblem(_ handler: String) -> String? {
    userNamespaces.withLock { probed in
      guard let outcome = probed[handler] else { return "not probed (the handler is not usable here)" }
      return outcome
    }
  }
  /// Why a configured handler is not usable, by name: missing binary, or a failed start-up probe.
  private let unusable: Mutex<[String: String]>
  public var unavailableHandlers: [String: String] { unusable.withLock { $0 } }

  /// Handlers that can run pods here.
  public var usableHandlers: [String: any ContainerRuntime] {
    let bad = unavailableHandlers
    return runtimes.filter { bad[$0.key] == nil }
  }
  /// Decoded container configs by id (immutable once created), for fast lists.
  let decodedContainers = Mutex<
    [String: (config: ContainerSpec, mounts: [SpecBuilder.ResolvedMount], user: SpecBuilder.ResolvedUser?, stopSignal: String)]
  >([:])
  /// How each container's ExecSync commands start: crisp's own exec with the container's profile, or the
  /// OCI runtime's (the reason why). Read from the container's spec on first use.
  let execProfiles = Mutex<[String: Result<ExecProfile, ExecProfile.Unsupported>]>([:])
  /// Decoded sandbox configs by id, with whether the pod uses the host's network (both fixed at creation).
  let decodedSandboxes = Mutex<[String: (config: PodSandboxSpec, hostNetwork: Bool)]>([:])
  /// The last container and sandbox records read for a list (see ``ListedRecords``).
  let listedContainers = ListedRecords<ContainerRecord>(id: \.id)
  let listedSandboxes = ListedRecords<SandboxRecord>(id: \.id)
  /// Each container's last UpdateContainerResources, decoded, with the record details it came from.
  let updatedResources = Mutex<[String: (extra: [UInt8], resources: ContainerResources?)]>([:])
  /// The daemon's own oom_score_adj, the floor for children under `restrict_oom_score_adj`.
  let daemonOOMScore: Int
  /// Without CAP_SYS_RESOURCE no child can go below the daemon's score either: the kernel refuses, and runc
  /// would fail the container for it. crisp clamps instead.
  let canLowerOOMScore: Bool

  /// The daemon's manager: the real host, and an OCI runtime driver for each configured handler.
  public convenience init(
    config: CrispConfig, store: Store, images: ImageManager, cgroupDriver: CrispConfig.CgroupDriver, shimBinary: String, codec: any RecordCodec,
    logger: Logger
  ) {
    let watcher = CNIConfigWatcher(directory: config.cni.confDir, maxConfNum: config.cni.maxConfNum, logger: logger)
    let networks = PodNetworks(config: config.cni, watcher: watcher, logger: logger)
    self.init(
      config: config, store: store, images: images, cgroupDriver: cgroupDriver, networks: networks, codec: codec,
      host: .live(shimBinary: shimBinary, networks: networks, snapshotter: images.snapshotter),
      runtimes: Self.configuredRuntimes(config, cgroupDriver: cgroupDriver), logger: logger)
  }

  /// A manager over the given host and runtimes: unit tests pass fakes here.
  public init(
    config: CrispConfig, store: Store, images: ImageManager, cgroupDriver: CrispConfig.CgroupDriver, networks: PodNetworks,
    codec: any RecordCodec, host: HostServices, runtimes: (usable: [String: any ContainerRuntime], unavailable: [String: String]), logger: Logger,
    cdi: CDIRegistry? = nil
  ) {
    self.cdi = cdi ?? CDIRegistry(directories: config.cdi.specDirs, logger: logger)
    self.config = config
    self.store = store
    self.images = images
    self.logger = logger
    self.host = host
    paths = RuntimePaths(config)
    appArmor = AppArmorProfiles(host: host.appArmor, directory: paths.appArmor)
    self.networks = networks
    self.codec = codec
    cgroups = Cgroups(driver: cgroupDriver)
    cgroupCounters = CgroupCounters(cgroups: cgroups)
    self.runtimes = runtimes.usable
    unusable = Mutex(runtimes.unavailable)
    handlerAnnotations = Mutex(config.runtime.handlers)
    daemonOOMScore = (try? OOMScore.current()) ?? 0
    canLowerOOMScore = Host.hasCapability(24)  // CAP_SYS_RESOURCE
  }

  /// Each handler's annotation allow-lists as last applied (start-up, then each reload). Read once per
  /// create, so a create sees one version of the lists.
  private let handlerAnnotations: Mutex<[String: CrispConfig.Runtime.Handler]>

  /// The pod and container annotation patterns of `handler` now.
  func annotationPatterns(handler name: String) -> (pod: AnnotationPatterns, container: AnnotationPatterns) {
    let handler = handlerAnnotations.withLock { $0[name] }
    return (handler?.podAnnotationPatterns ?? .none, handler?.containerAnnotationPatterns ?? .none)
  }

  /// Takes new `pod_annotations`/`container_annotations` (a configuration reload) for the next creates;
  /// pods and containers already created keep the annotations their specs were written with.
  public func applyAnnotationLists(_ handlers: [String: CrispConfig.Runtime.Handler]) {
    handlerAnnotations.withLock { $0 = handlers }
  }

  /// An OCI runtime driver per configured handler whose binary exists, and why the others are unusable.
  static func configuredRuntimes(
    _ config: CrispConfig, cgroupDriver: CrispConfig.CgroupDriver
  ) -> (usable: [String: any ContainerRuntime], unavailable: [String: String]) {
    var runtimes: [String: any ContainerRuntime] = [:]
    var unavailable: [String: String] = [:]
    for (name, handler) in config.runtime.handlers {
      guard access(handler.binary, X_OK) == 0 else {
        unavailable[name] = "\(handler.binary) is not an executable file"
        continue
      }
      let root = handler.root.isEmpty ? RuntimePaths(config).runtimeRoot(name) : handler.root
      runtimes[name] = OCIRuntime(
        handler: name, binary: handler.binary, root: root, systemdCgroup: handler.systemdCgroup ?? (cgroupDriver == .systemd))
    }
    return (runtimes, unavailable)
  }

  /// Tries each handler once at start-up: creates (and deletes) a throwaway container from the pause image.
  /// A runtime that cannot work on this host (Debian's crun 1.8 on a hybrid cgroup layout, say) is then not
  /// advertised in Status, and pods asking for it fail at once with the runtime's own message.
  public func probeHandlers() async {
    guard let image = try? await sandboxImage(), (try? images.snapshotter.layer(chainID: image.record.chainID)) != nil else { return }
    removeLeftoverProbeRoots()
    for (name, runtime) in runtimes.sorted(by: { $0.key < $1.key }) {
      let id = "crisp-probe-\(getpid())-\(name)"
      let directory = paths.probe(name)
      // A root of the probe's own over the pause image, as a container gets: runc writes into the root it is
      // given (device nodes and mount points under /dev, /proc), and the image's layers are shared by every pod.
      let rootfs = directory + "/rootfs"
      let spec = HandlerProbe.spec(rootfs: rootfs, cgroupsPath: cgroups.path(parent: "/crisp-probe-\(getpid())", id: name))
      do throws(CrispError) {
        do {
          try FilePath.makePrivateDirectory(directory)
        } catch {
          throw CrispError.failed("create the probe bundle \(directory)", error)
        }
        try host.rootfs.prepareRootfs(owner: id, chainID: image.record.chainID, target: rootfs, shift: nil)
        try await HandlerProbe.run(runtime, id: id, spec: spec, bundle: directory)
      } catch {
        unusable.withLock { $0[name] = error.message }
        logger.warning("runtime handler cannot run containers here; not advertised", metadata: ["handler": "\(name)", "reason": "\(error.message)"])
      }
      try? await runtime.delete(id)
      try? host.rootfs.removeRootfs(owner: id, target: rootfs)
      try? FilePath.removeTree(directory)
      if await runtime.supportsRecursiveReadOnly() { recursiveReadOnly.withLock { _ = $0.insert(name) } }
      if unavailableHandlers[name] == nil { await probeUserNamespaces(name, runtime: runtime, spec: spec, image: image.record) }
    }
    try? host.namespaces.removeUser(at: paths.probe("userns"))
    try? FilePath.removeTree(FilePath.join(paths.state, "probe"))
    cgroups.removeEmpty("/crisp-probe-\(getpid())")
  }

  /// A daemon killed while probing left its probes' roots: their mounts (the probe directories are named by
  /// handler, so they are this start's too) and writable snapshots go before probing again, so no probe
  /// layer is ever measured as a container's or keeps an image from garbage collection.
  private func removeLeftoverProbeRoots() {
    host.mounts.unmountAll(under: FilePath.join(paths.state, "probe"))
    let leftovers = ((try? store.allSnapshots()) ?? []).compactMap { record -> String? in
      guard record.kind == .active, let owner = record.owner, owner.hasPrefix("crisp-probe-") else { return nil }
      return owner
    }
    for owner in leftovers { try? host.rootfs.removeRootfs(owner: owner, target: nil) }
  }

  /// Runs the probe container again in a user namespace of its own, on an idmapped overlay root made the way
  /// a user-namespaced pod's is: only a handler that passes is advertised with `user_namespaces`.
  private func probeUserNamespaces(_ name: String, runtime: any ContainerRuntime, spec base: OCISpec, image: ImageRecord) async {
    let id = "crisp-probe-userns-\(getpid())-\(name)"
    let userns = paths.probe("userns")
    let directory = paths.probe("userns-\(name)")
    let mapping = UserNamespace.Mapping(hostID: 3_000_000_000, size: 65536)
    var spec = base
    spec.process?.user = OCISpec.User()
    spec.root = .init(path: directory + "/rootfs", readonly: true)
    // A pod's own mounts (proc, dev, devpts, mqueue, sysfs, cgroup), made from inside the user namespace.
    spec.mounts = SpecBuilder.defaultMounts(shm: nil, privileged: false).filter { $0.destination != "/dev/shm" }
    spec.linux?.cgroupsPath = cgroups.path(parent: "/crisp-probe-\(getpid())", id: "userns-" + name)
    var linux = spec.linux ?? OCISpec.Linux()
    SpecBuilder.joinUserNamespace(.init(path: userns, uids: mapping, gids: mapping), &linux)
    spec.linux = linux
    do {
      if !NetworkNamespace.isPinned(userns) {
        try await host.namespaces.createUser(at: userns, uids: mapping, gids: mapping, netnsPath: nil)
      }
      // The probe container's root is an unmapped id on the node and must reach its root filesystem.
      try FilePath.makePrivateDirectory(directory, group: mapping.hostID)
      try host.rootfs.prepareRootfs(
        owner: id, chainID: image.chainID, target: directory + "/rootfs",
        shift: .init(userns: userns, rootUID: mapping.hostID, rootGID: mapping.hostID))
      try writeSpec(spec, to: directory)
      try await runtime.delete(id)
      try await runtime.probeCreate(id, bundle: directory)
      try await runtime.delete(id)
      userNamespaces.withLock { $0[name] = .some(nil) }
    } catch let error as CrispError {
      userNamespaces.withLock { $0[name] = .some(error.message) }
      logger.info("user-namespaced pods are not advertised for this handler", metadata: ["handler": "\(name)", "reason": "\(error.message)"])
    } catch {
      userNamespaces.withLock { $0[name] = .some("\(error)") }
    }
    try? await runtime.delete(id)
    try? host.rootfs.removeRootfs(owner: id, target: directory + "/rootfs")
    try? FilePath.removeTree(directory)
  }

  // MARK: Paths

  var containersDirectory: String { paths.containers }
  /// The containers directory held open, so checking a container's exit file walks two path components
  /// instead of the whole path (lists check every running container).
  private static let containersFD = Mutex<(path: String, fd: Int32, checked: ContinuousClock.Instant)?>(nil)
  /// Whether `id`'s shim has written its exit file (cheap: no read).
  func exitRecorded(_ id: String) -> Bool {
    let directory = containersDirectory
    let fd: Int32 = Self.containersFD.withLock { cached in
      // The open directory must still be the one at the path (checked at most once a second).
      if let current = cached, current.path == directory {
        if ContinuousClock.now - current.checked < .seconds(1) { return current.fd }
        var open = stat(), named = stat()
        if fstat(current.fd, &open) == 0, stat(directory, &named) == 0, open.st_ino == named.st_ino, open.st_dev == named.st_dev {
          cached = (current.path, current.fd, ContinuousClock.now)
          return current.fd
        }
      }
      let opened = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
      guard opened >= 0 else { return -1 }
      if let cached { close(cached.fd) }
      cached = (directory, opened, ContinuousClock.now)
      return opened
    }
    guard fd >= 0 else { return FilePath.exists(bundle(id) + "/exit") }
    var info = stat()
    return fstatat(fd, id + "/exit", &info, 0) == 0
  }
  func bundle(_ id: String) -> String { paths.bundle(id) }
  func netnsPath(_ id: String) -> String { paths.netns(id) }
  /// Removes `id` from its runtime: natively once its shim has recorded the exit (``OCIRuntime/delete(stopped:)``),
  /// else through the runtime's `delete --force`.
  func deleteRuntimeState(_ id: String, runtime: any ContainerRuntime) async throws(CrispError) {
    if exitRecorded(id) {
      try await runtime.delete(stopped: id)
    } else {
      try await runtime.delete(id)
    }
  }

  /// Where a user-namespaced sandbox's user namespace is pinned.
  func usernsPath(_ id: String) -> String { paths.userns(id) }
  /// Where a new sandbox's namespace is pinned: by id under the state directory, or (with `cni.netns_dir`)
  /// as `cni-<uuid>` where `ip netns` and other tools look.
  func newNetnsPath(_ id: String) -> String { paths.newNetns(id) }

  /// The saved CNI attachment of a sandbox (see ``PodNetworkAttachment``).
  func networkCacheFile(_ id: String) -> String { paths.networkCache(id) }
  func sandboxFilesDirectory(_ id: String) -> String { paths.sandboxFiles(id) }
  func shmPath(_ id: String) -> String { paths.shm(id) }

  /// A new 64-hex-digit id, the form kubelet and crictl expect.
  static func newID() -> String {
    (0..<4).map { _ in
      let text = String(UInt64.random(in: 0...UInt64.max), radix: 16)
      return String(repeating: "0", count: 16 - text.count) + text
    }.joined()
  }

  /// The runtime for a CRI `runtime_handler` (empty: the default).
  func runtime(for handler: String) throws(CrispError) -> any ContainerRuntime {
    let name = handler.isEmpty ? config.runtime.defaultHandler : handler
    if let reason = unavailableHandlers[name] {
      throw CrispError.failedPrecondition("runtime_handler \"\(name)\" is not usable on this node: \(reason)")
    }
    if let runtime = runtimes[name] { return runtime }
    throw CrispError.invalidArgument(
      "runtime_handler \"\(name)\" is not configured (known: \(config.runtime.handlers.keys.sorted().joined(separator: ", ")))")
  }

  /// oom_score_adj for a child, never lower than the daemon's own under `restrict_oom_score_adj`.
  func childOOMScore(_ requested: Int) -> Int {
    OOMScore.clampForChild(requested, daemonScore: daemonOOMScore, restrictToDaemon: config.restrictOOMScoreAdj || !canLowerOOMScore)
  }

  func writeSpec(_ spec: OCISpec, to directory: String) throws(CrispError) {
    try HandlerProbe.writeSpec(spec, to: directory)
  }

  /// Resolves an id or a unique prefix of one (crictl accepts short ids).
  func resolveID(_ id: String, table: String) throws(CrispError) -> String? {
    guard !id.isEmpty else { return nil }
    if id.count == 64 { return id }
    let matches = try store.runtimeIDs(withPrefix: id, table: table)
    if matches.count > 1 { throw CrispError.invalidArgument("id prefix \"\(id)\" is ambiguous (\(matches.count) matches)") }
    return matches.first
  }
}
