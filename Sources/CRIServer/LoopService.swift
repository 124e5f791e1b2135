import ServiceLifecycle

/// Background work that loops until its task is cancelled (the exit watcher), as a service of the daemon's
/// group: the group's graceful shutdown cancels it when its turn in the shutdown order comes.
struct LoopService: Service {
  let loop: @Sendable () async -> Void

  func run() async {
    await cancelWhenGracefulShutdown { await loop() }
  }
}
