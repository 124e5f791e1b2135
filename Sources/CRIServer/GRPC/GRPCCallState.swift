import GRPCCore
import NIOCore
import NIOHPACK

/// One gRPC call on its HTTP/2 stream, from its request headers to the stream's end, as a value whose
/// transitions return what the connection must do (``GRPCCallAction``).
///
/// Why one enum: every rule of a call (when its handler starts, what a frame arriving late means, whether
/// our answer or the client's reset wins, when the stream is reset after our trailers) depends on where the
/// call is. Kept as flags, each rule had to consider every combination of them; here the phase says it, an
/// event that makes no sense in a phase is ignored in one place, and each transition is unit-tested.
///
///     awaitingHeaders ──headers──▶ receiving ──END_STREAM──▶ running ──first message──▶ responding
///           │                   (unary, server-      (client-streaming
///           │                    streaming)           starts here)
///           └──refused──▶ closed      receiving, running, responding ──answer, error, deadline,
///                                     shutdown──▶ answered;  any phase ──reset, close──▶ closed
///
/// Not thread-safe: it lives in its connection's handler, on the connection's event loop.
struct GRPCCallState {
  /// Per-stream receive window advertised in SETTINGS; unary requests up to this size need no window update.
  static let initialStreamWindow = 1 << 20
  /// A client-streaming call may run this far ahead of its handler before its window stops opening.
  static let maxBufferedRequestBytes = 4 << 20

  /// Where a call is.
  enum Phase {
    /// A new stream: nothing is known before its request headers.
    case awaitingHeaders
    /// A unary or server-streaming call collecting its one request; its handler starts once the client
    /// ends its side.
    case receiving(Receiving)
    /// The handler runs and has sent nothing yet.
    case running(Running)
    /// The handler has sent the response headers and at least one message.
    case responding(Running)
    /// Our trailers are out; what the handler or the client still sends is dropped. `resetPending`: the
    /// client was still sending, so the stream is reset once the trailers are on the socket.
    case answered(resetPending: Bool)
    /// The stream is gone (ended, reset, or its connection closed), or its headers were refused.
    case closed
  }

  /// A call collecting its one request.
  struct Receiving {
    let method: GRPCMethod
    let handler: OneRequestHandler
    var inbound: Inbound
    /// The request message, once complete.
    var request: ByteBuffer?
  }

  /// A call whose handler runs.
  struct Running {
    let method: GRPCMethod
    var client: ClientSide
  }

  /// The client's side of a running call.
  enum ClientSide {
    /// Still sending (client-streaming only): its bytes, and the stream its messages reach the handler by.
    case sending(Inbound, AsyncThrowingStream<ByteBuffer, any Error>.Continuation)
    /// It has ended its side (END_STREAM).
    case done
  }

  /// Request bytes of a client still sending, and what they owe its flow-control window.
  struct Inbound {
    var reader: GRPCMessageReader
    /// Stream bytes received and not yet returned to the client's window. Bounded by the stream window,
    /// which NIOHTTP2 enforces before a DATA frame reaches the connection handler.
    var credit = 0
    /// Client-streaming: message bytes handed to the handler and not yet taken by it.
    var queued = 0
  }

  /// The handler of a call that takes one request, started once that request is complete.
  enum OneRequestHandler {
    case unary(@Sendable (ByteBuffer) async throws -> [UInt8])
    case serverStreaming(@Sendable (ByteBuffer, GRPCResponseSink) async throws -> Void)
  }

  private(set) var phase: Phase = .awaitingHeaders
  /// Larger request messages are refused with RESOURCE_EXHAUSTED before they are buffered.
  private let maxMessageSize: Int

  init(maxMessageSize: Int) {
    self.maxMessageSize = maxMessageSize
  }

  /// True once nothing more can happen to the call: the connection forgets it.
  var isClosed: Bool {
    if case .closed = phase { return true }
    return false
  }

  // MARK: the client's frames

  /// HEADERS from the client: on a new stream the request headers, which accept or refuse the call;
  /// later, trailers, which end the client's side when they carry END_STREAM.
  mutating func receivedHeaders(_ headers: HPACKHeaders, endStream: Bool, methods: [String: GRPCMethod]) -> [GRPCCallAction] {
    guard case .awaitingHeaders = phase else {
      // gRPC clients send no trailers, but HTTP/2 allows them.
      return endStream ? clientFinished() : []
    }
    guard headers.first(name: ":method") == "POST" else {
      phase = .closed
      return [.refuseHTTP(status: "405", reset: !endStream)]
    }
    guard let contentType = headers.first(name: "content-type"), GRPCWire.isGRPCContentType(contentType) else {
      phase = .closed
      return [.refuseHTTP(status: "415", reset: !endStream)]
    }
    let path = headers.first(name: ":path") ?? ""
    guard let method = methods[path] else {
      phase = .closed
      let status = RPCError(code: .unimplemented, message: "crisp does not serve the method \(path)")
      return [.refuseMethod(path: path, status: status, reset: !endStream)]
    }
    var actions = accept(method, deadline: headers.first(name: "grpc-timeout").flatMap(GRPCWire.timeout))
    if endStream { actions += clientFinished() }
    return actions
  }

  /// A DATA frame's bytes. `flowLength` is what the frame took from the stream window (padding included).
  mutating func receivedData(_ bytes: ByteBuffer, flowLength: Int, endStream: Bool) -> [GRPCCallAction] {
    switch phase {
    case .receiving(var receiving):
      // Not a transition: cleared so the reader's buffer is held once and grows in place; set again below.
      phase = .closed
      let failure = receiving.take(bytes, flowLength: flowLength)
      let update = failure == nil && !endStream ? receiving.inbound.windowUpdate() : []
      phase = .receiving(receiving)
      return afterData(delivered: [], failure: failure, update: update, endStream: endStream)
    case .running, .responding:
      let taken = updateRunning { running -> (delivered: [GRPCCallAction], failure: RPCError?, update: [GRPCCallAction])? in
        guard let (delivered, failure) = running.client.take(bytes, flowLength: flowLength) else { return nil }
        let update = failure == nil && !endStream ? running.client.windowUpdate() : []
        return (delivered, failure, update)
      }
      // A client that has ended its side sends nothing more; NIOHTTP2 refuses it before it gets here.
      guard let taken = taken ?? nil else { return [] }
      return afterData(delivered: taken.delivered, failure: taken.failure, update: taken.update, endStream: endStream)
    case .awaitingHeaders, .answered, .closed:
      return []
    }
  }

  /// The client reset the stream, the stream closed, or the connection did: the call ends with CANCELLED
  /// and nothing more is written for it.
  mutating func abandoned(_ reason: String) -> [GRPCCallAction] {
    let status = RPCError(code: .cancelled, message: reason)
    let previous = phase
    phase = .closed
    switch previous {
    case .receiving(let receiving):
      return [.recordEnd(receiving.method, status), .cancelDeadline]
    case .running(let running), .responding(let running):
      var actions: [GRPCCallAction] = [.cancelHandler, .cancelDeadline]
      if case .sending(_, let requests) = running.client { actions.append(.endRequests(requests, throwing: status)) }
      return actions
    case .awaitingHeaders, .answered, .closed:
      return []
    }
  }

  // MARK: the handler

  /// A client-streaming handler took `count` bytes of messages: the client may send that much more.
  mutating func handlerConsumed(_ count: Int) -> [GRPCCallAction] {
    updateRunning { running -> [GRPCCallAction] in
      guard case .sending(var inbound, let requests) = running.client else { return [] }
      inbound.queued -= count
      let update = inbound.windowUpdate()
      running.client = .sending(inbound, requests)
      return update
    } ?? []
  }

  /// A server-streaming handler's message; nil when the call has ended and the message cannot be sent.
  mutating func sendingMessage(_ message: [UInt8]) -> [GRPCCallAction]? {
    switch phase {
    case .running(let running):
      phase = .responding(running)
      return [.writeHeaders, .writeMessage(message)]
    case .responding:
      return [.writeMessage(message)]
    case .awaitingHeaders, .receiving, .answered, .closed:
      return nil
    }
  }

  /// The handler's end: its last message (nil for a server-streaming handler, whose messages went out as
  /// it produced them) and OK, or its error. The handler has recorded the call itself.
  mutating func handlerFinished(_ outcome: Result<[UInt8]?, RPCError>) -> [GRPCCallAction] {
    switch outcome {
    case .success(let message):
      return answer(status: nil, message: message, stop: nil)
    case .failure(let error):
      return answer(status: error, message: nil, stop: nil)
    }
  }

  // MARK: the connection

  /// The deadline the client sent (`grpc-timeout`) has passed: DEADLINE_EXCEEDED, and the handler is cancelled.
  mutating func deadlineExpired(after timeout: TimeAmount) -> [GRPCCallAction] {
    guard let method else { return [] }
    let milliseconds = timeout.nanoseconds / 1_000_000
    return fail(
      RPCError(
        code: .deadlineExceeded,
        message: "\(method.name) did not finish within the caller's deadline of \(milliseconds) ms"), clientSending: true)
  }

  /// The server shuts down: subscriptions that never end by themselves (`endsAtShutdown`) end now with
  /// UNAVAILABLE, so kubelet reconnects to the next daemon; with `force` (the grace period is over) every call does.
  mutating func shuttingDown(force: Bool) -> [GRPCCallAction] {
    guard let method, force || method.endsAtShutdown else { return [] }
    return fail(RPCError(code: .unavailable, message: "crisp is shutting down"), clientSending: true)
  }

  /// Our trailers are on the socket. A client still sending then gets RST_STREAM: it frees the stream.
  mutating func trailersFlushed() -> [GRPCCallAction] {
    guard case .answered(resetPending: true) = phase else { return [] }
    phase = .answered(resetPending: false)
    return [.reset]
  }

  // MARK: transitions shared by the events

  /// The method of a call whose handler has yet to answer.
  private var method: GRPCMethod? {
    switch phase {
    case .receiving(let receiving): return receiving.method
    case .running(let running), .responding(let running): return running.method
    case .awaitingHeaders, .answered, .closed: return nil
    }
  }

  /// An accepted call: a client-streaming handler starts at once, the others once their request is complete.
  private mutating func accept(_ method: GRPCMethod, deadline: TimeAmount?) -> [GRPCCallAction] {
    let inbound = Inbound(reader: GRPCMessageReader(maxMessageSize: maxMessageSize))
    switch method.body {
    case .unary(let body):
      phase = .receiving(Receiving(method: method, handler: .unary(body), inbound: inbound))
      return [.begin(method, deadline: deadline)]
    case .serverStreaming(let body):
      phase = .receiving(Receiving(method: method, handler: .serverStreaming(body), inbound: inbound))
      return [.begin(method, deadline: deadline)]
    case .clientStreaming(let body):
      let (requests, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self, throwing: (any Error).self)
      phase = .running(Running(method: method, client: .sending(inbound, continuation)))
      return [.begin(method, deadline: deadline), .startHandler(method, .clientStreaming(body, requests: requests))]
    }
  }

  /// What follows a DATA frame's messages: the call's end when they were not valid, the client's end with
  /// END_STREAM, or else the window's refill.
  private mutating func afterData(
    delivered: [GRPCCallAction], failure: RPCError?, update: [GRPCCallAction], endStream: Bool
  ) -> [GRPCCallAction] {
    // A failure is answered before END_STREAM counts, so the stream is reset after the trailers, as it
    // always was (NIOHTTP2 then finds it closed already and sends nothing).
    if let failure { return delivered + fail(failure, clientSending: true) }
    return delivered + (endStream ? clientFinished() : update)
  }

  /// The client has ended its side: a call collecting its request starts its handler (or fails, without a
  /// complete request); a client-streaming handler's request stream ends.
  private mutating func clientFinished() -> [GRPCCallAction] {
    switch phase {
    case .receiving(let receiving):
      guard !receiving.inbound.reader.hasPartialMessage else {
        return fail(Self.truncated, clientSending: false)
      }
      guard let request = receiving.request else {
        return fail(
          RPCError(
            code: .internalError,
            message: "\(receiving.method.name) needs a request message; the client sent none"), clientSending: false)
      }
      phase = .running(Running(method: receiving.method, client: .done))
      return [.startHandler(receiving.method, receiving.handler.invocation(request))]
    case .running, .responding:
      return updateRunning { running -> [GRPCCallAction] in
        guard case .sending(let inbound, let requests) = running.client else { return [] }
        running.client = .done
        return [.endRequests(requests, throwing: inbound.reader.hasPartialMessage ? Self.truncated : nil)]
      } ?? []
    case .awaitingHeaders, .answered, .closed:
      return []
    }
  }

  /// Ends the call with `status` before its handler has: the handler is cancelled (or, never started, the
  /// call recorded), and the trailers go out. `clientSending`: the client has not ended its side.
  private mutating func fail(_ status: RPCError, clientSending: Bool) -> [GRPCCallAction] {
    if case .receiving(let receiving) = phase {
      phase = .answered(resetPending: clientSending)
      return [
        .recordEnd(receiving.method, status), .cancelDeadline,
        .writeTrailers(status, trailersOnly: true, thenReset: clientSending),
      ]
    }
    return answer(status: status, message: nil, stop: .cancelHandler)
  }

  /// Ends a running call on our side: `stop` for its handler, the deadline disarmed, the request stream
  /// ended if the client is still sending (a reset follows the trailers then), and the answer's frames.
  private mutating func answer(status: RPCError?, message: [UInt8]?, stop: GRPCCallAction?) -> [GRPCCallAction] {
    let running: Running
    let responding: Bool
    switch phase {
    case .running(let current): (running, responding) = (current, false)
    case .responding(let current): (running, responding) = (current, true)
    case .awaitingHeaders, .receiving, .answered, .closed: return []
    }
    var actions: [GRPCCallAction] = stop.map { [$0] } ?? []
    actions.append(.cancelDeadline)
    var clientSending = false
    if case .sending(_, let requests) = running.client {
      clientSending = true
      actions.append(.endRequests(requests, throwing: CancellationError()))
    }
    var headersSent = responding
    if let message {
      if !headersSent { actions.append(.writeHeaders) }
      headersSent = true
      actions.append(.writeMessage(message))
    }
    actions.append(.writeTrailers(status, trailersOnly: !headersSent, thenReset: clientSending))
    phase = .answered(resetPending: clientSending)
    return actions
  }

  /// Runs `body` on a running call's data; nil when the call is not running. The phase is cleared
  /// meanwhile so the data's buffers are held once and grow in place.
  private mutating func updateRunning<Value>(_ body: (inout Running) -> Value) -> Value? {
    switch phase {
    case .running(var running):
      phase = .closed
      defer { phase = .running(running) }
      return body(&running)
    case .responding(var running):
      phase = .closed
      defer { phase = .responding(running) }
      return body(&running)
    case .awaitingHeaders, .receiving, .answered, .closed:
      return nil
    }
  }

  private static var truncated: RPCError {
    RPCError(code: .internalError, message: "the request stream ended inside a message")
  }
}

extension GRPCCallState.Receiving {
  /// Takes a DATA frame's bytes; returns the error that ends the call when they are not one valid message.
  mutating func take(_ bytes: ByteBuffer, flowLength: Int) -> RPCError? {
    inbound.append(bytes, flowLength: flowLength)
    do {
      while let message = try inbound.reader.next() {
        guard request == nil else {
          return RPCError(code: .internalError, message: "\(method.name) takes one request message; the client sent more")
        }
        request = message
      }
    } catch {
      return error
    }
    return nil
  }
}

extension GRPCCallState.ClientSide {
  /// Takes a DATA frame's bytes while the client is sending: each complete message goes to the handler,
  /// and an invalid one ends the call. Nil once the client has ended its side.
  mutating func take(_ bytes: ByteBuffer, flowLength: Int) -> (delivered: [GRPCCallAction], failure: RPCError?)? {
    guard case .sending(var inbound, let requests) = self else { return nil }
    // Cleared so the reader's buffer is held once and grows in place.
    self = .done
    defer { self = .sending(inbound, requests) }
    inbound.append(bytes, flowLength: flowLength)
    var delivered: [GRPCCallAction] = []
    do {
      while let message = try inbound.reader.next() {
        inbound.queued += message.readableBytes
        delivered.append(.deliver(message, to: requests))
      }
    } catch {
      return (delivered, error)
    }
    return (delivered, nil)
  }

  /// The window refill of a client still sending; none once it has ended its side.
  mutating func windowUpdate() -> [GRPCCallAction] {
    guard case .sending(var inbound, let requests) = self else { return [] }
    let update = inbound.windowUpdate()
    self = .sending(inbound, requests)
    return update
  }
}

extension GRPCCallState.Inbound {
  mutating func append(_ bytes: ByteBuffer, flowLength: Int) {
    reader.append(bytes)
    credit += flowLength
  }

  /// Returns received bytes to the stream's window once half of it is used, unless a client-streaming
  /// handler has fallen behind: then the client waits until the handler takes what is queued.
  mutating func windowUpdate() -> [GRPCCallAction] {
    guard credit >= GRPCCallState.initialStreamWindow / 2, queued < GRPCCallState.maxBufferedRequestBytes else { return [] }
    defer { credit = 0 }
    return [.openWindow(credit)]
  }
}

extension GRPCCallState.OneRequestHandler {
  /// The handler paired with its request.
  func invocation(_ request: ByteBuffer) -> GRPCInvocation {
    switch self {
    case .unary(let body): return .unary(body, request: request)
    case .serverStreaming(let body): return .serverStreaming(body, request: request)
    }
  }
}
