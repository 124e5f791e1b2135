import ServiceLifecycle

/// The daemon's services in their one shutdown order, written here once.
///
/// A `ServiceGroup` stops its services from the last to the first, each after the one before has
/// returned. So the list is: the background work first (stopped last), then the metrics endpoint, the
/// streaming server, and the gRPC server last, which therefore stops accepting and drains its calls before
/// anything it uses goes away. A service that fails shuts the others down in the same order, and the group
/// then throws its error. (The store is not a service: the daemon closes it after the group has returned.)
enum DaemonServices {
  static func ordered(
    grpc: any Service, streaming: any Service, metrics: (any Service)?, background: [(name: String, service: any Service)]
  ) -> [ServiceGroupConfiguration.ServiceConfiguration] {
    var services = background
    if let metrics { services.append(("metrics server", metrics)) }
    services.append(("streaming server", streaming))
    services.append(("gRPC server", grpc))
    return services.map { name, service in
      .init(service: service, failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: name)
    }
  }
}
