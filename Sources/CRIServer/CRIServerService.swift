import ServiceLifecycle

/// Runs the gRPC server as a lifecycle service: on a shutdown signal it stops accepting and lets in-flight
/// calls finish. Last in the daemon's service list, so it is the first service the group stops.
struct CRIServerService: Service {
  let server: GRPCSocketServer

  /// The server ended without being asked to (its listener closed): a failure, so that the group stops the
  /// other services in their order and the daemon exits non-zero for its supervisor to restart it.
  struct StoppedUnexpectedly: Error, CustomStringConvertible {
    var description: String { "the gRPC server stopped without a shutdown request" }
  }

  func run() async throws {
    try await withGracefulShutdownHandler {
      try await server.run()
    } onGracefulShutdown: {
      server.beginGracefulShutdown()
    }
    if !Task.isShuttingDownGracefully && !Task.isCancelled { throw StoppedUnexpectedly() }
  }
}
