public import Config
import CRIAPI
import CrispCore
import Foundation
import Images
import Runtime
public import Logging
import ServiceLifecycle
import Store
import Streaming
import UnixSignals

/// The crisp daemon: takes its locks, opens the store, serves the CRI socket until SIGTERM/SIGINT, then
/// shuts down cleanly. Containers are never touched by a shutdown: they belong to their shims.
public struct Daemon: Sendable {
  /// Receive limit for one gRPC message: what kubelet itself allows (large ListContainers answers).
  public static let maxReceiveMessageSize = 16 * 1024 * 1024

  public let config: CrispConfig
  public let logger: Logger
  /// Where SIGHUP re-reads the configuration; nil ignores SIGHUP (a daemon built from a value, not files).
  public let reloadSource: ConfigReloadSource?

  public init(config: CrispConfig, logger: Logger, reloadSource: ConfigReloadSource? = nil) {
    self.config = config
    self.logger = logger
    self.reloadSource = reloadSource
  }

  /// Runs until a termination signal, returning normally after a clean shutdown. Start-up problems (another
  /// daemon on these paths, an unusable socket or store) throw ``CrispError`` with the reason.
  public func run() async throws {
    // A helper that exits before reading all its input must not take the daemon with it.
    signal(SIGPIPE, SIG_IGN)
    MemoryFootprint.limitHeapArenas(2)
    let address = config.grpc.address
    try prepareDirectories()
    let locks = try takeLocks()
    applyOOMScore()

    // Before any component starts, so that no span is started on the no-op tracer and then missed.
    let tracing = try TracingSetup.bootstrap(config.tracing, logger: logger)
    let store = try Store(path: FilePath.join(config.root, "crisp.db"))
    let components = try await startComponents(store: store)
    let listener = try openSocket(address)
    // Trapped before READY=1: from then on a SIGHUP reloads instead of ending the process.
    let reloads = await UnixSignalsSequence(trapping: .sighup)
    let group = serviceGroup(components, listener: listener, reloads: reloads, tracing: tracing)
    logger.info(
      "serving",
      metadata: [
        "address": "\(address)", "version": "\(CrispVersion.current)", "root": "\(config.root)",
        "state": "\(config.state)", "cgroup_driver": "\(components.node.cgroupDriver.rawValue)",
      ])
    UnixSocket.notifySystemd("READY=1")
    MemoryFootprint.trimReadOnlyFileMappings()
    defer {
      // After every service has stopped, whether the group ended cleanly or with an error.
      store.close()
      try? FilePath.remove(address)
      withExtendedLifetime(locks) {}
      logger.info("stopped")
    }
    try await group.run()
  }

  /// What the daemon runs, started in dependency order: images (which also builds the pause image and
  /// collects garbage), the runtime with its recovery and watchers, the streaming server, the metrics
  /// endpoint. A component that cannot start stops the daemon here, before it reports ready.
  private func startComponents(store: Store) async throws -> DaemonComponents {
    let images = try ImageManager(config: config, store: store, logger: logger)
    try await images.start(pauseBinary: Self.siblingExecutable("crisp-pause"))
    let node = NodeContext(config: config, store: store, logger: logger)
    guard let shimBinary = Self.siblingExecutable("crisp-shim") else {
      throw CrispError.failedPrecondition("crisp-shim was not found next to crisp (\(Self.siblingDirectory ?? "?")): install it beside the daemon")
    }
    let runtime = RuntimeManager(
      config: config, store: store, images: images, cgroupDriver: node.cgroupDriver, shimBinary: shimBinary, codec: CRIRecordCodec(), logger: logger)
    // The CNI directory watch runs for the life of the process (it has no stop); the exit watcher is a
    // service of the group.
    runtime.networks.watcher.start()
    // The CDI spec directories' watch, likewise for the life of the process; a configuration reload moves it
    // with runtime.cdi.setDirectories.
    runtime.cdi.start()
    await runtime.recover()
    runtime.restrictPodDirectories()
    await runtime.probeHandlers()
    let streaming = StreamServer(config: config.streaming, runtime: runtime, logger: logger)
    try await streaming.start()
    var metrics: MetricsServer?
    if !config.metrics.address.isEmpty {
      let server = MetricsServer(runtime: runtime, logger: logger)
      server.bootstrap()
      try await server.start(address: config.metrics.address)
      metrics = server
    }
    return DaemonComponents(node: node, images: images, runtime: runtime, streaming: streaming, metrics: metrics)
  }

  /// The gRPC server over the components, and every service in one group (``DaemonServices`` orders them).
  private func serviceGroup(
    _ components: DaemonComponents, listener: Int32, reloads: UnixSignalsSequence, tracing: (any Service)?
  ) -> ServiceGroup {
    let store = components.runtime.store
    let trimmer = IdleTrimmer(releaseCaches: { store.releaseMemory() })
    let executor = EventLoopTaskExecutor()
    let node = components.node
    let methods = CRIMethods.table(
      runtime: RuntimeServiceHandler(node: node, runtime: components.runtime, streaming: components.streaming),
      images: ImageServiceHandler(node: node, images: components.images, runtime: components.runtime),
      admin: AdminServiceHandler(node: node, images: components.images, runtime: components.runtime))
    let server = GRPCSocketServer(
      listeningSocket: listener, group: executor.group,
      environment: GRPCServerEnvironment(
        methods: methods, loopExecutor: executor, recorder: CallRecorder(logger: logger, trimmer: trimmer),
        maxMessageSize: Self.maxReceiveMessageSize, tracer: tracing == nil ? nil : CallTracer()))
    let images = components.images
    let runtime = components.runtime
    let streaming = components.streaming
    let metrics = components.metrics.map { metrics in ComponentService { await metrics.stop() } }
    var background: [(name: String, service: any Service)] = [
      ("image manager", ComponentService { await images.shutdown() }), ("idle trimmer", trimmer),
      ("exit watcher", LoopService { await runtime.watchExits() }),
    ]
    // First in the list, so stopped last: spans of calls the gRPC server drains are still exported.
    if let tracing { background.insert(("span exporter", tracing), at: 0) }
    if let reloadSource {
      let reloader = ConfigReloader(
        source: reloadSource, live: node.live, appliers: ConfigReloader.appliers(images: images, runtime: runtime), logger: logger)
      background.append(("config reloader", ConfigReloadService(signals: reloads, reloader: reloader)))
    }
    return ServiceGroup(
      configuration: .init(
        services: DaemonServices.ordered(
          grpc: CRIServerService(server: server), streaming: ComponentService { await streaming.stop() }, metrics: metrics,
          background: background),
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
  }

  /// The directory of the running crisp binary.
  static var siblingDirectory: String? {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map { FilePath.directory(of: $0) }
  }

  /// A program installed next to the running crisp binary (crisp-pause, crisp-shim), if present.
  static func siblingExecutable(_ name: String) -> String? {
    guard let directory = siblingDirectory else { return nil }
    let path = FilePath.join(directory, name)
    return access(path, X_OK) == 0 ? path : nil
  }

  private func prepareDirectories() throws(CrispError) {
    do {
      try FilePath.makeDirectories(config.root, mode: FilePath.sharedParentMode)
      try FilePath.makeDirectories(config.state, mode: FilePath.sharedParentMode)
      // Traversable, not listable, also where an older crisp made them otherwise: what must stay out of
      // reach (container root filesystems, pod shm) is in 0700 directories below.
      for directory in [config.root, config.state] where chmod(directory, FilePath.sharedParentMode) != 0 {
        throw SystemError.last("chmod", directory)
      }
      try FilePath.makeDirectories(FilePath.directory(of: config.grpc.address), mode: 0o711)
    } catch {
      throw CrispError(.failedPrecondition, "cannot create crisp's directories: \(error)")
    }
  }

  /// One daemon per root and per socket. The locks are flock(2)s, which the kernel drops when their holder
  /// dies, so a daemon killed with -9 never blocks its successor.
  private func takeLocks() throws(CrispError) -> [FileLock] {
    var locks: [FileLock] = []
    for (path, what) in [
      (config.grpc.address + ".lock", "socket \(config.grpc.address)"),
      (FilePath.join(config.root, "crisp.lock"), "root \(config.root)"),
    ] {
      let lock: FileLock?
      do {
        lock = try FileLock.tryAcquire(path)
      } catch {
        throw CrispError(.failedPrecondition, "cannot lock \(path): \(error)")
      }
      guard let lock else {
        let holder = FileLock.holder(of: path).map { " (pid \($0))" } ?? ""
        throw CrispError(.alreadyExists, "another crisp daemon\(holder) is already using \(what)")
      }
      locks.append(lock)
    }
    return locks
  }

  /// A stale socket file (its daemon was killed) is replaced; a live one, held by something that does not
  /// take crisp's lock, is left alone and start-up fails.
  private func openSocket(_ address: String) throws(CrispError) -> Int32 {
    if UnixSocket.isLive(address) {
      throw CrispError(.alreadyExists, "another process is already serving on \(address)")
    }
    guard let gid = config.grpc.group.isEmpty ? 0 : Host.groupID(config.grpc.group) else {
      throw CrispError(.invalidArgument, "grpc.group: no group named \"\(config.grpc.group)\"")
    }
    do {
      if FilePath.exists(address) {
        logger.info("replacing stale socket", metadata: ["address": "\(address)"])
        try FilePath.remove(address)
      }
      return try UnixSocket.listen(at: address, mode: 0o660, gid: gid)
    } catch {
      throw CrispError(.failedPrecondition, "cannot listen on \(address): \(error)")
    }
  }

  private func applyOOMScore() {
    do {
      switch try OOMScore.apply(config.oomScore) {
      case .applied:
        break
      case .clamped(let requested, let kept):
        logger.warning(
          "the kernel refused to lower oom_score_adj (no CAP_SYS_RESOURCE); keeping the current score",
          metadata: [
            "requested": "\(requested)", "kept": "\(kept)",
          ])
      }
    } catch {
      logger.warning("cannot set oom_score_adj", metadata: ["error": "\(error)"])
    }
  }
}
