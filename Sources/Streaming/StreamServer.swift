public import Config
public import CrispCore
import SPDY
import Crypto
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
public import Runtime

/// The exec / attach / port-forward server kubelet proxies `kubectl exec`, `attach` and `port-forward` to.
/// The CRI `Exec`, `Attach` and `PortForward` calls validate the request and get a URL with a single-use
/// token from ``url(for:)``; the client then upgrades an HTTP/1.1 request on that URL to SPDY/3.1 or to a
/// websocket, and the session runs on the upgraded connection.
public final class StreamServer: Sendable {
  private let config: CrispConfig.Streaming
  private let runtime: RuntimeManager
  private let logger: Logger
  private let requests = StreamRequests()
  private let bound = LockedBox<(channel: (any Channel)?, base: String)>((nil, ""))

  public init(config: CrispConfig.Streaming, runtime: RuntimeManager, logger: Logger) {
    self.config = config
    self.runtime = runtime
    self.logger = logger
  }

  /// Binds the configured address (port 0: any free port) and starts serving.
  public func start() async throws(CrispError) {
    var tls: NIOSSLContext?
    if !config.tlsCertFile.isEmpty {
      do {
        let chain = try NIOSSLCertificate.fromPEMFile(config.tlsCertFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: config.tlsKeyFile, format: .pem)
        tls = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
      } catch {
        throw CrispError.failedPrecondition("streaming.tls_cert_file / tls_key_file: \(error)")
      }
    }
    let tlsContext = tls
    let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          let operations = channel.pipeline.syncOperations
          if let tlsContext { try operations.addHandler(NIOSSLServerHandler(context: tlsContext)) }
          // A client that never completes its request is dropped like one that never opens its streams.
          try operations.addHandler(IdleStateHandler(allTimeout: self.creationTimeout), name: "http-idle")
          let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
          try operations.addHandler(decoder, name: "http-decoder")
          try operations.addHandler(HTTPResponseEncoder(), name: "http-encoder")
          try operations.addHandler(StreamRouter(server: self), name: "router")
        }
      }
    do {
      let channel = try await bootstrap.bind(host: config.address, port: config.port).get()
      let port = channel.localAddress?.port ?? config.port
      let host = config.address.contains(":") ? "[\(config.address)]" : config.address
      bound.set((channel, "\(tlsContext == nil ? "http" : "https")://\(host):\(port)"))
      logger.info("streaming server listening", metadata: ["url": "\(bound.get().base)"])
    } catch {
      throw CrispError.failedPrecondition("streaming server: cannot listen on \(config.address):\(config.port): \(error)")
    }
  }

  public func stop() async {
    try? await bound.get().channel?.close()
  }

  /// The URL for a validated request: `<base>/<exec|attach|portforward>/<token>`.
  public func url(for request: StreamRequest) -> String {
    "\(bound.get().base)/\(request.route)/\(requests.issue(request))"
  }

  var idleTimeout: TimeAmount { .nanoseconds(config.idleTimeout.nanoseconds) }
  var creationTimeout: TimeAmount { .nanoseconds(config.streamCreationTimeout.nanoseconds) }

  // MARK: Upgrades (event loop)

  enum RouteError: Error {
    case status(HTTPResponseStatus, String)
  }

  /// Resolves a token to what its session needs, re-checking the target (it may have exited since the RPC).
  func session(for route: String, token: String) throws(RouteError) -> (StreamRequest, ExecTarget?, PortForwardTarget?) {
    guard let request = requests.take(token, route: route) else {
      throw .status(.notFound, "unknown, used or expired streaming token")
    }
    do {
      switch request {
      case .exec(let id, _, _), .attach(let id, _):
        return (request, try runtime.streamTarget(id), nil)
      case .portForward(let id, _):
        return (request, nil, try runtime.portForwardTarget(id))
      }
    } catch {
      throw .status(error.code == .notFound ? .notFound : .conflict, error.message)
    }
  }

  func backend(_ request: StreamRequest, _ target: ExecTarget?) -> (any CommandBackend, StreamOptions)? {
    guard let target else { return nil }
    switch request {
    case .exec(_, let command, let options): return (ExecBackend(target: target, command: command), options)
    case .attach(_, let options): return (AttachBackend(target: target), options)
    case .portForward: return nil
    }
  }

  func log(_ message: String, _ metadata: Logger.Metadata) { logger.info("\(message)", metadata: metadata) }
}

/// The HTTP/1.1 side: routes `/{exec,attach,portforward}/<token>` (GET or POST), answers errors in plain
/// text, and on a valid upgrade request swaps the HTTP handlers for the SPDY or websocket ones.
final class StreamRouter: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  private let server: StreamServer
  private var head: HTTPRequestHead?

  init(server: StreamServer) { self.server = server }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let request): head = request
    case .body: break
    case .end:
      guard let head else { return }
      self.head = nil
      route(context, head)
    }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // Not HTTP (garbage before any upgrade): close; the daemon carries on.
    context.close(promise: nil)
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
  }

  private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ message: String) {
    var headers = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close")])
    headers.add(name: "Content-Length", value: "\(message.utf8.count + 1)")
    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
    var body = context.channel.allocator.buffer(capacity: message.utf8.count + 1)
    body.writeString(message + "\n")
    context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
    context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
  }

  /// What an upgrade request asked for: the endpoint (`exec`, `attach`, `portforward`), the protocol to
  /// switch to and the subprotocols the client offered.
  private struct Upgrade {
    var endpoint: String
    var isSPDY: Bool
    var offers: [String]
  }

  private func route(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
    let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
    let parts = path.split(separator: "/").map(String.init)
    guard parts.count == 2, let endpoint = parts.first, let token = parts.last, ["exec", "attach", "portforward"].contains(endpoint) else {
      return respond(context, .notFound, "no such streaming endpoint: \(path)")
    }
    guard head.method == .GET || head.method == .POST else {
      return respond(context, .methodNotAllowed, "\(head.method) is not allowed; use GET or POST")
    }
    let upgradeHeader = head.headers["Upgrade"].joined(separator: ",").lowercased()
    let isSPDY = upgradeHeader.contains("spdy/3.1")
    guard isSPDY || upgradeHeader.contains("websocket") else {
      return respond(context, .badRequest, "streaming requests must upgrade the connection to SPDY/3.1 or a websocket")
    }
    let session: (StreamRequest, ExecTarget?, PortForwardTarget?)
    do {
      session = try server.session(for: endpoint, token: token)
    } catch {
      switch error {
      case .status(let status, let message): return respond(context, status, message)
      }
    }
    let offered = head.headers[isSPDY ? "X-Stream-Protocol-Version" : "Sec-WebSocket-Protocol"]
    let upgrade = Upgrade(
      endpoint: endpoint, isSPDY: isSPDY, offers: offered.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } })
    if case .portForward(_, let ports) = session.0, let target = session.2 {
      if isSPDY { return upgradePortForwardToSPDY(context, upgrade, target: target, ports: ports) }
      return upgradePortForwardToWebSocket(context, head, upgrade, target: target, ports: ports)
    }
    guard let (backend, options) = server.backend(session.0, session.1) else {
      return respond(context, .internalServerError, "no backend for this request")
    }
    let container = session.1?.containerID ?? ""
    if isSPDY { return upgradeCommandToSPDY(context, upgrade, container: container, backend: backend, options: options) }
    upgradeCommandToWebSocket(context, head, upgrade, container: container, backend: backend, options: options)
  }

  private func upgradePortForwardToSPDY(_ context: ChannelHandlerContext, _ upgrade: Upgrade, target: PortForwardTarget, ports: [Int32]) {
    let offers = upgrade.offers
    guard offers.isEmpty || offers.contains("portforward.k8s.io") else {
      return respond(context, .forbidden, "unable to upgrade: none of the offered protocols \(offers) is portforward.k8s.io")
    }
    upgradeToSPDY(context, chosen: offers.isEmpty ? nil : "portforward.k8s.io") { connection in
      self.server.log("port forward", ["sandbox": "\(target.sandboxID)", "protocol": "spdy"])
      return SPDYPortForwardSession(connection: connection, target: target, ports: ports)
    }
  }

  private func upgradePortForwardToWebSocket(
    _ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ upgrade: Upgrade, target: PortForwardTarget, ports: [Int32]
  ) {
    let supported = ["v4.channel.k8s.io", "v4.base64.channel.k8s.io", "portforward.k8s.io"]
    guard let name = upgrade.offers.first(where: supported.contains) else {
      return respond(
        context, .badRequest,
        "unable to upgrade: none of the websocket subprotocols \(upgrade.offers) is supported (\(supported.joined(separator: ", ")))")
    }
    // Ports from the URL (`?port=80&port=443`), else those of the CRI request; capped and checked.
    let query = head.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
    let base64 = name.contains("base64")
    let requested: [UInt16]
    do {
      requested = try WebSocketPortList.parse(query: query, requested: ports, base64: base64)
    } catch {
      return respond(context, .badRequest, error.message)
    }
    guard let key = head.headers["Sec-WebSocket-Key"].first, !key.isEmpty else {
      return respond(context, .badRequest, "websocket upgrade without Sec-WebSocket-Key")
    }
    upgradeToWebSocket(context, key: key, protocolName: name) { channel in
      self.server.log("port forward", ["sandbox": "\(target.sandboxID)", "protocol": "websocket \(name)"])
      return WebSocketPortForwardSession(channel: channel, target: target, ports: requested, base64: base64)
    }
  }

  private func upgradeCommandToSPDY(
    _ context: ChannelHandlerContext, _ upgrade: Upgrade, container: String, backend: any CommandBackend, options: StreamOptions
  ) {
    let offers = upgrade.offers
    let version: RemoteCommandVersion
    if offers.isEmpty {
      version = .v1
    } else if let negotiated = RemoteCommandVersion.negotiate(offers, among: [.v4, .v3, .v2, .v1]) {
      version = negotiated
    } else {
      return respond(
        context, .forbidden, "unable to upgrade: none of the offered protocols \(offers) is supported (v4.channel.k8s.io … channel.k8s.io)")
    }
    let timeout = server.creationTimeout
    upgradeToSPDY(context, chosen: offers.isEmpty ? nil : version.rawValue) { connection in
      self.server.log("\(upgrade.endpoint) session", ["container": "\(container)", "protocol": "spdy \(version.rawValue)"])
      return SPDYCommandSession(connection: connection, version: version, options: options, backend: backend, creationTimeout: timeout)
    }
  }

  private func upgradeCommandToWebSocket(
    _ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ upgrade: Upgrade, container: String, backend: any CommandBackend,
    options: StreamOptions
  ) {
    var chosen: (RemoteCommandVersion, Bool, String)?
    for offer in upgrade.offers {
      let base64 = offer.contains("base64.")
      let plain = offer.replacingOccurrences(of: "base64.", with: "")
      if let version = RemoteCommandVersion(rawValue: plain), version != .v2, version != .v3 {
        chosen = (version, base64, offer)
        break
      }
    }
    guard let (version, base64, name) = chosen else {
      return respond(
        context, .badRequest,
        "unable to upgrade: none of the websocket subprotocols \(upgrade.offers) is supported (v5.channel.k8s.io, v4.channel.k8s.io, channel.k8s.io and their base64 forms)"
      )
    }
    guard let key = head.headers["Sec-WebSocket-Key"].first, !key.isEmpty else {
      return respond(context, .badRequest, "websocket upgrade without Sec-WebSocket-Key")
    }
    upgradeToWebSocket(context, key: key, protocolName: name) { channel in
      self.server.log("\(upgrade.endpoint) session", ["container": "\(container)", "protocol": "websocket \(name)"])
      return WebSocketCommandSession(channel: channel, version: version, base64: base64, options: options, backend: backend)
    }
  }

  private func switchProtocols(
    _ context: ChannelHandlerContext, _ headers: HTTPHeaders,
    install: @escaping (ChannelPipeline.SynchronousOperations, any ChannelHandler) throws -> Void
  ) {
    context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers))), promise: nil)
    let pipeline = context.pipeline
    do {
      let operations = pipeline.syncOperations
      // The response encoder goes first: whatever the new handlers write must not reach it.
      let encoder = try operations.handler(type: HTTPResponseEncoder.self)
      pipeline.removeHandler(encoder, promise: nil)
      let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
      try install(operations, decoder)
      pipeline.removeHandler(context: context, promise: nil)
      pipeline.removeHandler(name: "http-decoder", promise: nil)
      pipeline.removeHandler(name: "http-idle", promise: nil)
    } catch {
      context.close(promise: nil)
    }
  }

  private func upgradeToSPDY(_ context: ChannelHandlerContext, chosen: String?, _ makeApplication: @escaping (SPDYConnection) -> any SPDYApplication)
  {
    var headers = HTTPHeaders([("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")])
    if let chosen { headers.add(name: "X-Stream-Protocol-Version", value: chosen) }
    let idle = server.idleTimeout
    let loop = context.eventLoop
    switchProtocols(context, headers) { operations, decoder in
      let connection = try SPDYConnection(eventLoop: loop)
      let application = makeApplication(connection)
      connection.retain(application)
      let idleHandler = IdleStateHandler(allTimeout: idle)
      try operations.addHandler(idleHandler, position: .after(decoder))
      try operations.addHandler(connection, position: .after(idleHandler))
    }
  }

  private func upgradeToWebSocket(
    _ context: ChannelHandlerContext, key: String, protocolName: String, _ makeSession: @escaping (any Channel) -> any ChannelHandler
  ) {
    let digest = Insecure.SHA1.hash(data: Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))
    let accept = Data(digest).base64EncodedString()
    let headers = HTTPHeaders([
      ("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Accept", accept), ("Sec-WebSocket-Protocol", protocolName),
    ])
    let idle = server.idleTimeout
    let channel = context.channel
    switchProtocols(context, headers) { operations, decoder in
      let frameDecoder = ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 24))
      let encoder = WebSocketFrameEncoder()
      let idleHandler = IdleStateHandler(allTimeout: idle)
      try operations.addHandler(frameDecoder, position: .after(decoder))
      try operations.addHandler(encoder, position: .after(frameDecoder))
      try operations.addHandler(idleHandler, position: .after(encoder))
      try operations.addHandler(makeSession(channel), position: .after(idleHandler))
    }
  }
}

extension SPDYConnection {
  /// The connection owns its application (the application only refers back weakly).
  func retain(_ application: any SPDYApplication) {
    self.application = application
  }
}
