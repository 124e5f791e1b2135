import CrispCore
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import Runtime
import Synchronization

/// The Prometheus endpoint (`metrics.address`, off by default): `GET /metrics` in the text exposition
/// format. The per-call metrics (RPCs, pulls, CNI calls) are recorded where they happen through swift-metrics;
/// the counts of sandboxes, containers and shims are taken when scraped, so they are never stale.
final class MetricsServer: Sendable {
  let registry = PrometheusCollectorRegistry()
  private let runtime: RuntimeManager
  private let logger: Logger
  private let channel = Mutex<(any Channel)?>(nil)

  init(runtime: RuntimeManager, logger: Logger) {
    self.runtime = runtime
    self.logger = logger
  }

  /// Routes swift-metrics to this registry. Once per process (swift-metrics allows one bootstrap).
  func bootstrap() {
    var factory = PrometheusMetricsFactory(registry: registry)
    // Pulls take seconds to minutes; the default buckets stop at 10 s.
    factory.durationHistogramBuckets["crisp_image_pull_duration_seconds"] = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800].map {
      Duration.milliseconds(Int64($0 * 1000))
    }
    MetricsSystem.bootstrap(factory)
  }

  func start(address: String) async throws(CrispError) {
    guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
      throw CrispError.invalidArgument("metrics.address \"\(address)\" is not host:port")
    }
    let host = String(address[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
    let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.configureHTTPServerPipeline()
          try channel.pipeline.syncOperations.addHandler(MetricsHandler(server: self))
        }
      }
    do {
      let bound = try await bootstrap.bind(host: host, port: port).get()
      channel.withLock { $0 = bound }
      logger.info("metrics endpoint listening", metadata: ["url": "http://\(address)/metrics"])
    } catch {
      throw CrispError.failedPrecondition("metrics: cannot listen on \(address): \(error)")
    }
  }

  func stop() async {
    try? await channel.withLock { $0 }?.close()
  }

  /// The exposition text, with the state gauges refreshed first.
  func scrape() -> [UInt8] {
    refreshStateGauges()
    return registry.emitToBuffer()
  }

  private func refreshStateGauges() {
    let sandboxes = (try? runtime.sandboxes()) ?? []
    let containers = (try? runtime.containers()) ?? []
    for state in ["ready", "notready"] {
      Gauge(label: "crisp_sandboxes", dimensions: [("state", state)]).record(sandboxes.filter { $0.record.state.rawValue == state }.count)
    }
    for state in ["created", "running", "exited", "unknown"] {
      Gauge(label: "crisp_containers", dimensions: [("state", state)]).record(containers.filter { $0.record.state.rawValue == state }.count)
    }
    Gauge(label: "crisp_shims").record(Self.countShims())
  }

  /// Live crisp-shim processes on the node (each container's and each pod's pause).
  static func countShims() -> Int {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.filter { name in
      name.first?.isNumber == true && ((try? FilePath.readText("/proc/\(name)/comm"))?.hasPrefix("crisp-shim") ?? false)
    }.count
  }
}

/// Answers `GET /metrics`; anything else is 404.
private final class MetricsHandler: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart
  private let server: MetricsServer
  private var head: HTTPRequestHead?

  init(server: MetricsServer) { self.server = server }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let request): head = request
    case .body: break
    case .end:
      guard let head else { return }
      let found = head.method == .GET && head.uri.split(separator: "?").first == "/metrics"
      guard found else { return respond(context, head, .notFound, Array("not found: metrics are at GET /metrics\n".utf8)) }
      // The scrape reads the store and /proc: off the event loop, then back to answer.
      let server = server
      let loop = context.eventLoop
      let bound = NIOLoopBound((self, context), eventLoop: loop)
      Task.detached {
        let body = server.scrape()
        loop.execute { bound.value.0.respond(bound.value.1, head, .ok, body) }
      }
    }
  }

  private func respond(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ status: HTTPResponseStatus, _ body: [UInt8]) {
    var headers = HTTPHeaders([("Content-Length", "\(body.count)")])
    headers.add(name: "Content-Type", value: status == .ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8")
    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
    var buffer = context.channel.allocator.buffer(capacity: body.count)
    buffer.writeBytes(body)
    context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
  }
}
