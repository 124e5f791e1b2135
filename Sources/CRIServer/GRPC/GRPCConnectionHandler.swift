import GRPCCore
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Serves gRPC on one HTTP/2 connection, frame by frame, below it only `NIOHTTP2Handler`.
///
/// Why not a general gRPC server: for the calls kubelet polls every second, crisp's answer is a few
/// microseconds of work, and a general server's per-call machinery (a channel per stream, several tasks and
/// async sequences per call) cost many times that. Here a call is one task: the request is collected on the
/// event loop, the handler runs (quick calls on the loop itself, the rest in the concurrency pool), and its
/// answer is written as headers, data and trailers in one flush.
///
/// What a frame means for its call is decided by the call's ``GRPCCallState``; this class only performs the
/// actions it returns. Everything here runs on the connection's event loop; tasks reach it through
/// ``LoopBoundHandler``.
final class GRPCConnectionHandler: ChannelInboundHandler {
  typealias InboundIn = HTTP2Frame
  typealias OutboundOut = HTTP2Frame

  /// The connection-level receive window kept open: each stream's own window is what holds a client back.
  static let connectionWindowTarget = 4 << 20

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
      HTTP2Setting(parameter: .initialWindowSize, value: GRPCCallState.initialStreamWindow),
      HTTP2Setting(parameter: .maxHeaderListSize, value: 65536),
    ]
    configuration.controlFrameRateLimit.maximumCount = 30_000
    return configuration
  }

  /// A call on this connection: its state machine, and the handles of what its actions started.
  private struct Call {
    var state: GRPCCallState
    let start = ContinuousClock.now
    /// The handler's task, once the state machine has started it: to cancel it.
    var task: Task<Void, Never>?
    /// The `grpc-timeout` timer, when the client sent one: disarmed once the call is over.
    var deadline: Scheduled<Void>?
    /// The request's trace propagation headers, kept only while tracing is on.
    var traceHeaders: [(String, String)] = []
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
      if abandon(frame.streamID, reason: "the client reset the stream") { closeIfDrained() }
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
      // Closed before we answered: a reset, or the connection's end.
      abandon(closed.streamID, reason: "the stream was closed by the client")
      closeIfDrained()
    } else if let window = event as? NIOHTTP2WindowUpdatedEvent, window.streamID == .rootStream,
      let open = window.inboundWindowSize, open < Self.connectionWindowTarget / 2, !connectionUpdateInFlight
    {
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
    for streamID in calls.keys {
      abandon(streamID, reason: "the client closed the connection")
    }
    calls.removeAll()
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

  /// Request headers open a call (or are refused, and no call is kept); later headers are the client's trailers.
  private func received(headers: HPACKHeaders, endStream: Bool, on streamID: HTTP2StreamID) {
    let methods = environment.methods
    if let actions = calls[streamID]?.state.receivedHeaders(headers, endStream: endStream, methods: methods) {
      return perform(actions, on: streamID)
    }
    if streamID > highestStreamID { highestStreamID = streamID }
    var state = GRPCCallState(maxMessageSize: environment.maxMessageSize)
    let actions = state.receivedHeaders(headers, endStream: endStream, methods: methods)
    if !state.isClosed {
      calls[streamID] = Call(state: state, traceHeaders: environment.tracer == nil ? [] : CallTracer.carriedHeaders(headers))
    }
    perform(actions, on: streamID)
  }

  private func received(_ payload: HTTP2Frame.FramePayload.Data, on streamID: HTTP2StreamID) {
    guard case .byteBuffer(let bytes) = payload.data else { return }
    // At most a frame's length plus 256 bytes of padding.
    let flowLength = bytes.readableBytes + (payload.paddingBytes.map { $0 + 1 } ?? 0)
    guard let actions = calls[streamID]?.state.receivedData(bytes, flowLength: flowLength, endStream: payload.endStream) else { return }
    perform(actions, on: streamID)
  }

  /// The client went away from the call (reset, closed stream or connection): its handler is cancelled and
  /// nothing more is written. False when the stream had no call.
  @discardableResult
  private func abandon(_ streamID: HTTP2StreamID, reason: String) -> Bool {
    guard let actions = calls[streamID]?.state.abandoned(reason) else { return false }
    perform(actions, on: streamID)
    calls.removeValue(forKey: streamID)
    return true
  }

  // MARK: events from the call's handler and timer

  /// A client-streaming handler took a message: the client may send that much more.
  func consumed(_ count: Int, on streamID: HTTP2StreamID) {
    guard let actions = calls[streamID]?.state.handlerConsumed(count) else { return }
    perform(actions, on: streamID)
    flushIfNeeded()
  }

  /// A handler's end: its last message if it has one, and OK trailers; or the error.
  func handlerFinished(_ streamID: HTTP2StreamID, _ outcome: Result<[UInt8]?, RPCError>) {
    guard let actions = calls[streamID]?.state.handlerFinished(outcome) else { return }
    perform(actions, on: streamID)
  }

  /// One message of a server-streaming answer; the future completes once it is written to the socket, nil
  /// when the call has ended.
  func send(_ message: [UInt8], on streamID: HTTP2StreamID) -> EventLoopFuture<Void>? {
    guard let context, let actions = calls[streamID]?.state.sendingMessage(message) else { return nil }
    let written = context.eventLoop.makePromise(of: Void.self)
    perform(actions, on: streamID, messageWritten: written)
    return written.futureResult
  }

  private func expire(_ streamID: HTTP2StreamID, after timeout: TimeAmount) {
    guard let actions = calls[streamID]?.state.deadlineExpired(after: timeout) else { return }
    perform(actions, on: streamID)
  }

  /// Our trailers for a stream whose client was still sending are on the socket.
  private func trailersFlushed(_ streamID: HTTP2StreamID) {
    guard let actions = calls[streamID]?.state.trailersFlushed() else { return }
    perform(actions, on: streamID)
  }

  // MARK: performing a call's actions

  /// Does what the call's state machine decided, in its order. The trailers that end our side, a reset and
  /// a streamed message are flushed at once; the rest goes out with the read's flush.
  private func perform(_ actions: [GRPCCallAction], on streamID: HTTP2StreamID, messageWritten: EventLoopPromise<Void>? = nil) {
    var flush = false
    for action in actions {
      switch action {
      case .begin(let method, let deadline):
        begin(method, deadline: deadline, on: streamID)
      case .startHandler(let method, let invocation):
        let task = start(method, invocation, on: streamID)
        calls[streamID]?.task = task
      case .deliver(let message, let requests):
        requests.yield(message)
      case .endRequests(let requests, let error):
        if let error { requests.finish(throwing: error) } else { requests.finish() }
      case .cancelHandler:
        calls[streamID]?.task?.cancel()
      case .recordEnd(let method, let status):
        environment.recorder.finished(method, start: calls[streamID]?.start ?? .now, status: status)
      case .cancelDeadline:
        calls[streamID]?.deadline?.cancel()
      case .refuseMethod(let path, _, _):
        environment.recorder.unknownMethod(path)
        writeFrames(for: action, on: streamID, messageWritten: messageWritten)
      case .refuseHTTP, .openWindow, .writeHeaders:
        writeFrames(for: action, on: streamID, messageWritten: messageWritten)
      case .writeMessage, .writeTrailers, .reset:
        writeFrames(for: action, on: streamID, messageWritten: messageWritten)
        flush = true
      }
    }
    if flush { flushIfNeeded() }
  }

  /// The frames of one action.
  private func writeFrames(for action: GRPCCallAction, on streamID: HTTP2StreamID, messageWritten: EventLoopPromise<Void>?) {
    switch action {
    case .refuseHTTP(let status, let reset):
      // Not a gRPC request at all: a plain HTTP status, as the gRPC protocol asks.
      write(HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: [":status": status], endStream: true))))
      if reset { write(HTTP2Frame(streamID: streamID, payload: .rstStream(.noError))) }
    case .refuseMethod(_, let status, let reset):
      write(HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: GRPCWire.trailers(status, trailersOnly: true), endStream: true))))
      if reset { write(HTTP2Frame(streamID: streamID, payload: .rstStream(.noError))) }
    case .openWindow(let increment):
      write(HTTP2Frame(streamID: streamID, payload: .windowUpdate(windowSizeIncrement: increment)))
    case .writeHeaders:
      write(HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: GRPCWire.responseHeaders))))
    case .writeMessage(let message):
      guard let context else {
        messageWritten?.fail(ChannelError.ioOnClosedChannel)
        return
      }
      let data = GRPCWire.frame(message, allocator: context.channel.allocator)
      write(HTTP2Frame(streamID: streamID, payload: .data(.init(data: .byteBuffer(data)))), promise: messageWritten)
    case .writeTrailers(let status, let trailersOnly, let thenReset):
      writeTrailers(status, trailersOnly: trailersOnly, thenReset: thenReset, on: streamID)
    case .reset:
      write(HTTP2Frame(streamID: streamID, payload: .rstStream(.noError)))
    case .begin, .startHandler, .deliver, .endRequests, .cancelHandler, .recordEnd, .cancelDeadline:
      break
    }
  }

  /// Ends our side of the stream. A client still sending gets a reset once the trailers are out: NIOHTTP2
  /// would drop an answer still queued behind a reset.
  private func writeTrailers(_ status: RPCError?, trailersOnly: Bool, thenReset: Bool, on streamID: HTTP2StreamID) {
    let trailers = HTTP2Frame(
      streamID: streamID, payload: .headers(.init(headers: GRPCWire.trailers(status, trailersOnly: trailersOnly), endStream: true)))
    guard thenReset else { return write(trailers) }
    let written = context?.eventLoop.makePromise(of: Void.self)
    written?.futureResult.assumeIsolated().whenComplete { [weak self] _ in self?.trailersFlushed(streamID) }
    write(trailers, promise: written)
  }

  /// An accepted call counts as started; its deadline is armed when the client sent one.
  private func begin(_ method: GRPCMethod, deadline timeout: TimeAmount?, on streamID: HTTP2StreamID) {
    environment.recorder.started(method)
    guard let timeout, let loop = context?.eventLoop else { return }
    let timer = loop.assumeIsolated().scheduleTask(in: timeout) { [weak self] () -> Void in
      self?.expire(streamID, after: timeout)
    }
    calls[streamID]?.deadline = timer
  }

  // MARK: running a call

  /// Starts the handler as one task: quick calls on the loop's executor, the rest in the concurrency pool.
  /// The task records the call and reports its outcome back to the loop.
  private func start(_ method: GRPCMethod, _ invocation: GRPCInvocation, on streamID: HTTP2StreamID) -> Task<Void, Never>? {
    guard let loop = context?.eventLoop, let startTime = calls[streamID]?.start else { return nil }
    let bound = LoopBoundHandler(self, loop: loop)
    let recorder = environment.recorder
    let executor = method.quick ? environment.loopExecutor : environment.poolExecutor
    var work = Self.work(invocation, bound: bound, streamID: streamID)
    if let tracer = environment.tracer { work = tracer.traced(method, headers: calls[streamID]?.traceHeaders ?? [], work) }
    return Task(executorPreference: executor) {
      let outcome: Result<[UInt8]?, RPCError>
      do {
        outcome = .success(try await work())
      } catch {
        outcome = .failure(ErrorMapping.rpcError(for: error))
      }
      recorder.finished(method, start: startTime, status: outcome.error)
      bound.run { $0.handlerFinished(streamID, outcome) }
    }
  }

  /// The handler's work, ending with the answer's one message (nil for a server-streaming call, whose
  /// messages were sent as it produced them).
  private static func work(
    _ invocation: GRPCInvocation, bound: LoopBoundHandler, streamID: HTTP2StreamID
  ) -> @Sendable () async throws -> [UInt8]? {
    switch invocation {
    case .unary(let body, let request):
      return { try await body(request) }
    case .serverStreaming(let body, let request):
      let sink = GRPCResponseSink { message in try await bound.send(message, on: streamID) }
      return {
        try await body(request, sink)
        return nil
      }
    case .clientStreaming(let body, let messages):
      let source = GRPCRequestSource(messages: messages) { count in
        bound.run { $0.consumed(count, on: streamID) }
      }
      return { try await body(source) }
    }
  }

  // MARK: shutdown

  /// Graceful shutdown: GOAWAY tells the client to open no more calls here; subscriptions are ended with
  /// UNAVAILABLE so kubelet reconnects to the next daemon; the connection closes once its calls are done.
  func beginShutdown() {
    guard !draining else { return }
    draining = true
    write(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: highestStreamID, errorCode: .noError, opaqueData: nil)))
    for streamID in calls.keys {
      guard let actions = calls[streamID]?.state.shuttingDown(force: false) else { continue }
      perform(actions, on: streamID)
    }
    flushIfNeeded()
    closeIfDrained()
  }

  /// The end of the grace period: whatever still runs is cancelled and the connection closed.
  func forceClose() {
    for streamID in calls.keys {
      guard let actions = calls[streamID]?.state.shuttingDown(force: true) else { continue }
      perform(actions, on: streamID)
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

extension Result {
  fileprivate var error: Failure? {
    if case .failure(let error) = self { return error }
    return nil
  }
}
