import ServiceLifecycle

/// Runs the gRPC server as a lifecycle service: on a shutdown signal it stops accepting and lets in-flight
/// calls finish. Last in the daemon's service list, so it is the first service the group stops.
struct CRIServerService: Service {
  let server: GRPCSocketServer

  func run() async throws {
    try await withGracefulShutdownHandler {
      try await server.run()
    } onGracefulShutdown: {
      server.beginGracefulShutdown()
    }
  }
}
