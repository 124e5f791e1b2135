import ServiceLifecycle

/// A daemon component in the service group by its stop alone.
///
/// Why it is started elsewhere: the streaming server, the metrics endpoint and the image manager are started
/// during start-up, in dependency order, so that one that cannot start (a port in use, a broken store) stops
/// the daemon before it reports ready, and so that the gRPC server never serves a call they are not ready
/// for. What the group owns is their end: this service waits for the group's shutdown to reach it (the
/// group stops services in reverse order) and then stops the component, so the shutdown order is the
/// service list's, written once.
struct ComponentService: Service {
  let stop: @Sendable () async -> Void

  func run() async {
    // Throws only when the group is cancelled instead of shut down: the component is stopped all the same.
    try? await gracefulShutdown()
    await stop()
  }
}
