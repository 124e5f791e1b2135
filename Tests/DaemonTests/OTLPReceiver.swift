import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SwiftProtobuf
import Synchronization

/// An OTLP/HTTP trace receiver on loopback, standing in for an OpenTelemetry collector: it accepts
/// `POST /v1/traces` with a protobuf `ExportTraceServiceRequest`, answers as a collector does (200, an empty
/// protobuf response), and keeps every span it decoded.
final class OTLPReceiver: Sendable {
  typealias Span = Opentelemetry_Proto_Trace_V1_Span

  /// What arrived: the spans, and every request (paths and content types) so a test can tell none came.
  struct Received {
    var spans: [Span] = []
    var resources: [Opentelemetry_Proto_Trace_V1_Resource] = []
    var requests: [String] = []
    var errors: [String] = []
  }

  /// Shared by the connections' handlers and the test.
  final class Store: Sendable {
    let state = Mutex(Received())
  }

  let port: Int
  private let group: MultiThreadedEventLoopGroup
  private let channel: any Channel
  private let store: Store

  init() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let store = Store()
    let bootstrap = ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.configureHTTPServerPipeline()
          try channel.pipeline.syncOperations.addHandler(RequestHandler(store: store))
        }
      }
    let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
    self.group = group
    self.channel = channel
    self.store = store
    self.port = channel.localAddress?.port ?? 0
  }

  var snapshot: Received { store.state.withLock { $0 } }

  /// Waits until `done` holds for the spans received, and returns them; fails after `timeout`.
  func waitForSpans(timeout: Duration = .seconds(30), until done: ([Span]) -> Bool) async throws -> [Span] {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      let spans = snapshot.spans
      if done(spans) { return spans }
      try await Task.sleep(for: .milliseconds(100))
    }
    let last = snapshot
    throw ReceiverError(
      "no matching spans within \(timeout): received \(last.spans.map(\.name)) in \(last.requests.count) requests, errors \(last.errors)")
  }

  func stop() async {
    try? await channel.close()
    try? await group.shutdownGracefully()
  }

  struct ReceiverError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
  }

  /// One connection's requests: the body is collected (at most 16 MiB) and decoded once complete.
  private final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maxBody = 16 << 20
    let store: Store
    var head: HTTPRequestHead?
    var body: [UInt8] = []
    var tooLarge = false

    init(store: Store) { self.store = store }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
      switch unwrapInboundIn(data) {
      case .head(let head):
        self.head = head
        body = []
        tooLarge = false
      case .body(let chunk):
        if body.count + chunk.readableBytes > Self.maxBody { tooLarge = true } else { body += chunk.readableBytesView }
      case .end:
        guard let head else { return }
        respond(context: context, status: handle(head), keepAlive: head.isKeepAlive)
      }
    }

    /// Decodes one export; anything else is recorded as an error and refused.
    private func handle(_ head: HTTPRequestHead) -> HTTPResponseStatus {
      let contentType = head.headers.first(name: "content-type") ?? ""
      store.state.withLock { $0.requests.append("\(head.method) \(head.uri) \(contentType)") }
      guard head.method == .POST, head.uri == "/v1/traces", contentType == "application/x-protobuf", !tooLarge else {
        store.state.withLock { $0.errors.append("unexpected request \(head.method) \(head.uri) \(contentType)") }
        return .badRequest
      }
      do {
        let request = try Opentelemetry_Proto_Trace_V1_ExportTraceServiceRequest(serializedBytes: body)
        store.state.withLock { state in
          for resourceSpans in request.resourceSpans {
            state.resources.append(resourceSpans.resource)
            for scope in resourceSpans.scopeSpans { state.spans += scope.spans }
          }
        }
        return .ok
      } catch {
        store.state.withLock { $0.errors.append("undecodable body: \(error)") }
        return .badRequest
      }
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, keepAlive: Bool) {
      var headers = HTTPHeaders([("content-type", "application/x-protobuf"), ("content-length", "0")])
      if !keepAlive { headers.add(name: "connection", value: "close") }
      context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
      let channel = context.channel
      context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
        if !keepAlive { channel.close(promise: nil) }
      }
    }
  }
}
