import GRPCCore
import NIOCore
import NIOHPACK
import NIOHTTP2

/// What every connection of the server shares.
struct GRPCServerEnvironment: Sendable {
  /// Keyed by request path, `/runtime.v1.RuntimeService/ListContainers`.
  let methods: [String: GRPCMethod]
  /// Quick calls run here, on the socket's own event loop thread.
  let loopExecutor: EventLoopTaskExecutor
  let recorder: CallRecorder
  let maxMessageSize: Int
}

/// Serves gRPC on one HTTP/2 connection, frame by frame, below it only `NIOHTTP2Handler`.
///
/// Why not a general gRPC server: for the calls kubelet polls every second, crisp's answer is a few
/// microseconds of work, and a general server's per-call machinery (a channel per stream, several tasks and
/// async sequences per call) cost many times that. Here a call is one task: the request is collected on the
/// event loop, the handler runs (quick calls on the loop itself, the rest in the concurrency pool), and its
/// answer is written as headers, data and trailers in one flush.
///
/// Everything in this class runs on the connection's event loop; tasks reach it through ``LoopBoundHandler``.
final class GRPCConnectionHandler: ChannelInboundHandler {
  typealias InboundIn = HTTP2Frame
  typealias OutboundOut = HTTP2Frame

  /// Per-stream receive window advertised in SETTINGS; unary requests up to this size need no window update.
  static let initialStreamWindow = 1 << 20
  /// The connection-level receive window kept open: each stream's own window is what holds a client back.
  static let connectionWindowTarget = 4 << 20
  /// A client-streaming call may run this far ahead of its handler before its window stops opening.
  static let maxBufferedRequestBytes = 4 << 20

  private let environment: GRPCServerEnvironment
  private var context: ChannelHandlerContext?
  private var calls: [HTTP2StreamID: Call] = [:]
  private var highestStreamID: HTTP2StreamID = .rootStream
  private var needsFlush = false
  private var draining = false
  private var closing = false
  /// A connection WINDOW_UPDATE written and not yet sent: NIOHTTP2 counts it only once it leaves, so a
  /// second one computed meanwhile would open the window twice.
  private var connectionUpdateInFlight = false

  init(environment: GRPCServerEnvironment) {
    self.environment = environment
  }

  /// How crisp's server runs HTTP/2: many concurrent calls (kubelet multiplexes one connection), a 1 MiB
  /// stream window, header lists up to 64 KiB, and a PING allowance fit for gRPC clients.
  ///
  /// NIOHTTP2's default allows 200 PING/SETTINGS/PRIORITY frames in 30 s and then ends the connection with
  /// ENHANCE_YOUR_CALM. grpc-go, kubelet's client, sends a BDP PING after each answer that carries data, so a
  /// busy kubelet would lose its connection every few minutes (and calls in flight with it). The socket is
  /// root's alone; the allowance only stops a runaway flood.
  static var connectionConfiguration: NIOHTTP2Handler.ConnectionConfiguration {
    var configuration = NIOHTTP2Handler.ConnectionConfiguration()
    configuration.initialSettings = [
      HTTP2Setting(parameter: .maxConcurrentStreams, value: 1000),
      HTTP2Setting(parameter: .initialWindowSize, value: initialStreamWindow),
      HTTP2Setting(parameter: .maxHeaderListSize, value: 65536),
    ]
    configuration.controlFrameRateLimit.maximumCount = 30_000
    return configuration
  }

  /// One call's state on its stream.
  private final class Call {
    let method: GRPCMethod
    let start = ContinuousClock.now
    var reader: GRPCMessageReader
    var request: ByteBuffer?
    var requests: AsyncThrowingStream<ByteBuffer, any Error>.Continuation?
    var task: Task<Void, Never>?
    var deadline: Scheduled<Void>?
    var headersSent = false
    /// Our side is finished (trailers sent): later answers from the handler are dropped.
    var answered = false
    /// The client has sent END_STREAM.
    var clientDone = false
    /// Stream bytes received and not yet returned to the client's window.
    var streamCredit = 0
    /// Client-streaming: bytes handed to the handler's queue and not yet taken.
    var queuedBytes = 0

    init(method: GRPCMethod, maxMessageSize: Int) {
      self.method = method
      self.reader = GRPCMessageReader(maxMessageSize: maxMessageSize)
    }
  }

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    self.context = nil
  }

  // MARK: inbound frames

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let frame = unwrapInboundIn(data)
    switch frame.payload {
    case .headers(let headers):
      received(headers: headers.headers, endStream: headers.endStream, on: frame.streamID)
    case .data(let payload):
      received(payload, on: frame.streamID)
    case .rstStream:
      abandon(frame.streamID, reason: "the client reset the stream")
    default:
      // SETTINGS, PING, WINDOW_UPDATE, GOAWAY and PRIORITY are NIOHTTP2Handler's business.
      break
    }
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    flushIfNeeded()
    context.fireChannelReadComplete()
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if let closed = event as? StreamClosedEvent {
      if let call = calls.removeValue(forKey: closed.streamID), !call.answered {
        // Closed before we answered: a reset, or the connection's end.
        end(call, reason: "the stream was closed by the client")
      }
      closeIfDrained()
    } else if let window = event as? NIOHTTP2WindowUpdatedEvent, window.streamID == .rootStream,
              let open = window.inboundWindowSize, open < Self.connectionWindowTarget / 2, !connectionUpdateInFlight {
      // The connection window is refilled from NIOHTTP2Handler's own count, which includes DATA it
      // dropped for streams already closed: counting only frames seen here would leak window until
      // the client could send nothing.
      connectionUpdateInFlight = true
      let sent = context.eventLoop.makePromise(of: Void.self)
      sent.futureResult.assumeIsolated().whenComplete { [weak self] _ in self?.connectionUpdateInFlight = false }
      write(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: Self.connectionWindowTarget - open)), promise: sent)
    }
    context.fireUserInboundEventTriggered(event)
  }

  func channelInactive(context: ChannelHandlerContext) {
    let open = calls
    calls.removeAll()
    for call in open.values where !call.answered {
      end(call, reason: "the client closed the connection")
    }
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    switch error {
    case is NIOHTTP2Errors.StreamError:
      // Already answered by NIOHTTP2Handler with RST_STREAM; the connection is fine.
      break
    case is NIOHTTP2Errors.NoSuchStream where draining:
      // A client opening a stream as our GOAWAY crossed it: refused, nothing else is wrong.
      break
    default:
      // A connection error (NIOHTTP2Handler has sent GOAWAY for it), a read error, or a peer that does not
      // speak HTTP/2 at all: nothing more can be read from this connection.
      context.close(promise: nil)
    }
  }

  private func received(headers: HPACKHeaders, endStream: Bool, on streamID: HTTP2StreamID) {
    if let call = calls[streamID] {
      // Trailers from the client end its side; gRPC clients do not send them, but HTTP/2 allows it.
      if endStream { clientFinished(call, on: streamID) }
      return
    }
    if streamID > highestStreamID { highestStreamID = streamID }
    guard headers.first(name: ":method") == "POST" else {
      return writeHTTPError("405", on: streamID, clientDone: endStream)
    }
    guard let contentType = headers.first(name: "content-type"), GRPCWire.isGRPCContentType(contentType) else {
      return writeHTTPError("415", on: streamID, clientDone: endStream)
    }
    let path = headers.first(name: ":path") ?? ""
    guard let method = environment.methods[path] else {
      environment.recorder.unknownMethod(path)
      return writeTrailersOnly(RPCError(code: .unimplemented, message: "crisp does not serve the method \(path)"), on: streamID, clientDone: endStream)
    }
    let call = Call(method: method, maxMessageSize: environment.maxMessageSize)
    calls[streamID] = call
    environment.recorder.started(method)
    if let timeout = headers.first(name: "grpc-timeout").flatMap(GRPCWire.timeout), let loop = context?.eventLoop {
      call.deadline = loop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
        self?.expire(streamID, after: timeout)
      }
    }
    if case .clientStreaming = method.body {
      start(call, on: streamID)
    }
    if endStream { clientFinished(call, on: streamID) }
  }

  private func received(_ payload: HTTP2Frame.FramePayload.Data, on streamID: HTTP2StreamID) {
    guard case .byteBuffer(let bytes) = payload.data else { return }
    let flowLength = bytes.readableBytes + (payload.paddingBytes.map { $0 + 1 } ?? 0)
    guard let call = calls[streamID], !call.answered, !call.clientDone else { return }
    call.reader.append(bytes)
    call.streamCredit += flowLength
    do {
      while let message = try call.reader.next() {
        if let requests = call.requests {
          call.queuedBytes += message.readableBytes
          requests.yield(message)
        } else if call.request == nil {
          call.request = message
        } else {
          throw RPCError(code: .internalError, message: "\(call.method.name) takes one request message; the client sent more")
        }
      }
    } catch {
      return fail(call, on: streamID, ErrorMapping.rpcError(for: error))
    }
    if payload.endStream {
      clientFinished(call, on: streamID)
    } else {
      reopenStreamWindow(call, on: streamID)
    }
  }

  /// Returns received bytes to the stream's window once half of it is used, unless a client-streaming
  /// handler has fallen behind: then the client waits until the handler takes what is queued.
  private func reopenStreamWindow(_ call: Call, on streamID: HTTP2StreamID) {
    guard call.streamCredit >= Self.initialStreamWindow / 2, call.queuedBytes < Self.maxBufferedRequestBytes else { return }
    write(HTTP2Frame(streamID: streamID, payload: .windowUpdate(windowSizeIncrement: call.streamCredit)))
    call.streamCredit = 0
  }

  private func clientFinished(_ call: Call, on streamID: HTTP2StreamID) {
    guard !call.clientDone else { return }
    call.clientDone = true
    if let requests = call.requests {
      if call.reader.hasPartialMessage {
        requests.finish(throwing: RPCError(code: .internalError, message: "the request stream ended inside a message"))
      } else {
        requests.finish()
      }
      return
    }
    guard !call.answered else { return }
    guard !call.reader.hasPartialMessage else {
      return fail(call, on: streamID, RPCError(code: .internalError, message: "the request stream ended inside a message"))
    }
    guard call.request != nil else {
      return fail(call, on: streamID, RPCError(code: .internalError, message: "\(call.method.name) needs a request message; the client sent none"))
    }
    start(call, on: streamID)
  }

  // MARK: running a call

  private func start(_ call: Call, on streamID: HTTP2StreamID) {
    guard let loop = context?.eventLoop else { return }
    let bound = LoopBoundHandler(self, loop: loop)
    let recorder = environment.recorder
    let method = call.method
    let startTime = call.start
    let executor: any TaskExecutor = method.quick ? environment.loopExecutor : globalConcurrentExecutor
    // The handler's work, ending with the answer's one message (nil for a server-streaming call, whose
    // messages were sent as it produced them).
    let work: @Sendable () async throws -> [UInt8]?
    switch method.body {
    case .unary(let body):
      let request = call.request ?? ByteBuffer()
      work = { try await body(request) }
    case .serverStreaming(let body):
      let request = call.request ?? ByteBuffer()
      let sink = GRPCResponseSink { message in try await bound.send(message, on: streamID) }
      work = {
        try await body(request, sink)
        return nil
      }
    case .clientStreaming(let body):
      let (messages, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self, throwing: (any Error).self)
      call.requests = continuation
      let source = GRPCRequestSource(messages: messages) { count in
        bound.run { $0.consumed(count, on: streamID) }
      }
      work = { try await body(source) }
    }
    call.task = Task(executorPreference: executor) {
      let outcome: Result<[UInt8]?, RPCError>
      do {
        outcome = .success(try await work())
      } catch {
        outcome = .failure(ErrorMapping.rpcError(for: error))
      }
      recorder.finished(method, start: startTime, status: outcome.error)
      bound.run { $0.answer(streamID, outcome) }
    }
  }

  /// A client-streaming handler took a message: the client may send that much more.
  private func consumed(_ count: Int, on streamID: HTTP2StreamID) {
    guard let call = calls[streamID] else { return }
    call.queuedBytes -= count
    if !call.clientDone { reopenStreamWindow(call, on: streamID) }
    flushIfNeeded()
  }

  /// A handler's end: its last message if it has one, and OK trailers; or the error.
  fileprivate func answer(_ streamID: HTTP2StreamID, _ outcome: Result<[UInt8]?, RPCError>) {
    guard let call = calls[streamID], !call.answered, let context else { return }
    switch outcome {
    case .success(let message):
      if let message {
        writeHeadersIfNeeded(call, on: streamID)
        write(HTTP2Frame(streamID: streamID, payload: .data(.init(data: .byteBuffer(GRPCWire.frame(message, allocator: context.channel.allocator))))))
      }
      finish(streamID, status: nil)
    case .failure(let error):
      finish(streamID, status: error)
    }
  }

  /// One message of a server-streaming answer; the future completes once it is written to the socket.
  fileprivate func send(_ message: [UInt8], on streamID: HTTP2StreamID) -> EventLoopFuture<Void>? {
    guard let call = calls[streamID], !call.answered, let context else { return nil }
    writeHeadersIfNeeded(call, on: streamID)
    let promise = context.eventLoop.makePromise(of: Void.self)
    let frame = HTTP2Frame(streamID: streamID, payload: .data(.init(data: .byteBuffer(GRPCWire.frame(message, allocator: context.channel.allocator)))))
    context.writeAndFlush(wrapOutboundOut(frame), promise: promise)
    return promise.futureResult
  }

  /// Ends our side of the stream with trailers (trailers only if nothing was sent yet).
  fileprivate func finish(_ streamID: HTTP2StreamID, status: RPCError?) {
    guard let call = calls[streamID], !call.answered else { return }
    call.answered = true
    call.deadline?.cancel()
    let trailers = HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: GRPCWire.trailers(status, trailersOnly: !call.headersSent), endStream: true)))
    if call.clientDone {
      write(trailers)
    } else {
      // The client is still sending, and nothing it sends matters now: a reset frees the stream. It goes
      // out after the trailers have: NIOHTTP2 would drop the answer still queued behind a reset.
      call.requests?.finish(throwing: CancellationError())
      let written = context?.eventLoop.makePromise(of: Void.self)
      written?.futureResult.assumeIsolated().whenComplete { [weak self] _ in self?.reset(streamID) }
      write(trailers, promise: written)
    }
    flushIfNeeded()
  }

  /// A stream whose trailers are out and whose client is still sending.
  private func reset(_ streamID: HTTP2StreamID) {
    guard calls[streamID] != nil else { return }
    write(HTTP2Frame(streamID: streamID, payload: .rstStream(.noError)))
    flushIfNeeded()
  }

  private func fail(_ call: Call, on streamID: HTTP2StreamID, _ error: RPCError) {
    stopTask(call, status: error)
    finish(streamID, status: error)
  }

  /// Cancels the call's handler, which records the call when it ends; a call whose handler never
  /// started is recorded here.
  private func stopTask(_ call: Call, status: RPCError) {
    if let task = call.task {
      task.cancel()
    } else {
      environment.recorder.finished(call.method, start: call.start, status: status)
    }
  }

  private func expire(_ streamID: HTTP2StreamID, after timeout: TimeAmount) {
    guard let call = calls[streamID], !call.answered else { return }
    let milliseconds = timeout.nanoseconds / 1_000_000
    let status = RPCError(code: .deadlineExceeded, message: "\(call.method.name) did not finish within the caller's deadline of \(milliseconds) ms")
    stopTask(call, status: status)
    call.requests?.finish(throwing: CancellationError())
    finish(streamID, status: status)
  }

  /// The client went away from the call: its handler is cancelled, nothing more is written.
  private func abandon(_ streamID: HTTP2StreamID, reason: String) {
    guard let call = calls.removeValue(forKey: streamID) else { return }
    if !call.answered { end(call, reason: reason) }
    closeIfDrained()
  }

  private func end(_ call: Call, reason: String) {
    let status = RPCError(code: .cancelled, message: reason)
    call.answered = true
    call.deadline?.cancel()
    stopTask(call, status: status)
    call.requests?.finish(throwing: status)
  }

  // MARK: shutdown

  /// Graceful shutdown: GOAWAY tells the client to open no more calls here; subscriptions are ended with
  /// UNAVAILABLE so kubelet reconnects to the next daemon; the connection closes once its calls are done.
  func beginShutdown() {
    guard !draining else { return }
    draining = true
    write(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: highestStreamID, errorCode: .noError, opaqueData: nil)))
    for (streamID, call) in calls where call.method.endsAtShutdown && !call.answered {
      let status = RPCError(code: .unavailable, message: "crisp is shutting down")
      stopTask(call, status: status)
      finish(streamID, status: status)
    }
    flushIfNeeded()
    closeIfDrained()
  }

  /// The end of the grace period: whatever still runs is cancelled and the connection closed.
  func forceClose() {
    for (streamID, call) in calls where !call.answered {
      let status = RPCError(code: .unavailable, message: "crisp is shutting down")
      stopTask(call, status: status)
      finish(streamID, status: status)
    }
    flushIfNeeded()
    context?.close(promise: nil)
  }

  /// Closes a draining connection once its last stream has closed, after everything written is on the
  /// socket: a second GOAWAY (same last stream) is written, and the close waits for it.
  private func closeIfDrained() {
    guard draining, !closing, calls.isEmpty, let context else { return }
    closing = true
    let channel = context.channel
    let written = context.eventLoop.makePromise(of: Void.self)
    written.futureResult.whenComplete { _ in channel.close(promise: nil) }
    write(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: highestStreamID, errorCode: .noError, opaqueData: nil)), promise: written)
    flushIfNeeded()
  }

  // MARK: writing

  private func writeHeadersIfNeeded(_ call: Call, on streamID: HTTP2StreamID) {
    guard !call.headersSent else { return }
    call.headersSent = true
    write(HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: GRPCWire.responseHeaders))))
  }

  private func writeTrailersOnly(_ status: RPCError, on streamID: HTTP2StreamID, clientDone: Bool) {
    write(HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: GRPCWire.trailers(status, trailersOnly: true), endStream: true))))
    if !clientDone { write(HTTP2Frame(streamID: streamID, payload: .rstStream(.noError))) }
  }

  /// Not a gRPC request at all: a plain HTTP status, as the gRPC protocol asks.
  private func writeHTTPError(_ status: String, on streamID: HTTP2StreamID, clientDone: Bool) {
    write(HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: [":status": status], endStream: true))))
    if !clientDone { write(HTTP2Frame(streamID: streamID, payload: .rstStream(.noError))) }
  }

  private func write(_ frame: HTTP2Frame, promise: EventLoopPromise<Void>? = nil) {
    guard let context else {
      promise?.fail(ChannelError.ioOnClosedChannel)
      return
    }
    context.write(wrapOutboundOut(frame), promise: promise)
    needsFlush = true
  }

  private func flushIfNeeded() {
    guard needsFlush, let context else { return }
    needsFlush = false
    context.flush()
  }
}

/// How a call's task reaches its connection: on the loop directly when it already runs there (quick
/// calls), else by a hop.
struct LoopBoundHandler: @unchecked Sendable {
  // Only touched on `loop`: every access below checks or hops.
  private let handler: GRPCConnectionHandler
  private let loop: any EventLoop

  init(_ handler: GRPCConnectionHandler, loop: any EventLoop) {
    self.handler = handler
    self.loop = loop
  }

  func run(_ body: @escaping @Sendable (GRPCConnectionHandler) -> Void) {
    if loop.inEventLoop {
      body(handler)
    } else {
      let handler = self
      loop.execute { body(handler.handler) }
    }
  }

  func send(_ message: [UInt8], on streamID: HTTP2StreamID) async throws {
    let future: EventLoopFuture<Void>?
    if loop.inEventLoop {
      future = handler.send(message, on: streamID)
    } else {
      let handler = self
      future = try await loop.submit { handler.handler.send(message, on: streamID) }.get()
    }
    guard let future else { throw RPCError(code: .cancelled, message: "the call has ended") }
    try await future.get()
  }
}

extension Result {
  fileprivate var error: Failure? {
    if case .failure(let error) = self { return error }
    return nil
  }
}
