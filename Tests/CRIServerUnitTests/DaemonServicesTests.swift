@testable import CRIServer
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The daemon's one shutdown order (``DaemonServices``), run in a real `ServiceGroup` with services that
/// note when they stop: the gRPC server first, then streaming, metrics, and the background work.
@Suite(.timeLimit(.minutes(1))) struct DaemonServicesTests {
  final class StopLog: Sendable {
    private let names = Mutex<[String]>([])
    var stopped: [String] { names.withLock { $0 } }

    func service(_ name: String) -> ComponentService {
      ComponentService { self.names.withLock { $0.append(name) } }
    }
  }

  struct Failure: Error {}

  /// Fails as soon as it runs, as a gRPC server whose socket broke would.
  struct FailingService: Service {
    func run() async throws {
      try await Task.sleep(for: .milliseconds(20))
      throw Failure()
    }
  }

  static func group(_ services: [ServiceGroupConfiguration.ServiceConfiguration]) -> ServiceGroup {
    ServiceGroup(configuration: .init(services: services, logger: Logger(label: "crisp.test")))
  }

  @Test func aGracefulShutdownStopsTheServersFirstAndTheBackgroundWorkLast() async throws {
    let log = StopLog()
    let group = Self.group(
      DaemonServices.ordered(
        grpc: log.service("gRPC server"), streaming: log.service("streaming server"), metrics: log.service("metrics server"),
        background: [
          ("image manager", log.service("image manager")), ("idle trimmer", IdleTrimmer()), ("background loop", log.service("background loop")),
        ]))
    async let running: Void = group.run()
    try await Task.sleep(for: .milliseconds(50))
    await group.triggerGracefulShutdown()
    try await running
    #expect(log.stopped == ["gRPC server", "streaming server", "metrics server", "background loop", "image manager"])
  }

  @Test func withoutMetricsTheOrderIsTheSame() async throws {
    let log = StopLog()
    let group = Self.group(
      DaemonServices.ordered(
        grpc: log.service("gRPC server"), streaming: log.service("streaming server"), metrics: nil,
        background: [("image manager", log.service("image manager"))]))
    async let running: Void = group.run()
    try await Task.sleep(for: .milliseconds(50))
    await group.triggerGracefulShutdown()
    try await running
    #expect(log.stopped == ["gRPC server", "streaming server", "image manager"])
  }

  /// A failing gRPC server does not leave the rest to be cancelled at once: they stop in the same order,
  /// and the group throws the server's error.
  @Test func aFailingServerShutsTheRestDownInOrder() async throws {
    let log = StopLog()
    let group = Self.group(
      DaemonServices.ordered(
        grpc: FailingService(), streaming: log.service("streaming server"), metrics: log.service("metrics server"),
        background: [("image manager", log.service("image manager"))]))
    await #expect(throws: Failure.self) { try await group.run() }
    #expect(log.stopped == ["streaming server", "metrics server", "image manager"])
  }

  /// A loop that runs until cancelled (the exit watcher) ends when the shutdown reaches it, after the servers.
  @Test func aBackgroundLoopEndsInItsTurn() async throws {
    let log = StopLog()
    let loop = LoopService {
      while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
      await log.service("exit watcher").stop()
    }
    let group = Self.group(
      DaemonServices.ordered(
        grpc: log.service("gRPC server"), streaming: log.service("streaming server"), metrics: nil,
        background: [("exit watcher", loop), ("image manager", log.service("image manager"))]))
    async let running: Void = group.run()
    try await Task.sleep(for: .milliseconds(50))
    await group.triggerGracefulShutdown()
    try await running
    #expect(log.stopped == ["gRPC server", "streaming server", "image manager", "exit watcher"])
  }
}
