import GRPCCore
import NIOCore

/// One thing the connection does for a call, as ``GRPCCallState`` decides it.
///
/// Why actions instead of the state machine doing the work: the decisions (what a frame means for the call,
/// which answer goes out, when a stream is reset) stay pure and testable frame by frame, while the
/// connection handler keeps what only it can touch: the channel, the event loop and the handler's task.
/// A transition returns its actions in the order they must happen: the handler's end (cancel or record)
/// first, then the request stream, then the frames; a frame ending our side is always last, because writing
/// it can close the stream at once.
enum GRPCCallAction {
  /// Not a gRPC request: a bare HTTP status (`405`, `415`), as the gRPC protocol asks; with `reset` the
  /// client is still sending, and RST_STREAM follows.
  case refuseHTTP(status: String, reset: Bool)
  /// A path no service here has: trailers-only with `status` (UNIMPLEMENTED), the path logged but not
  /// counted, so a stray client cannot grow the metric families.
  case refuseMethod(path: String, status: RPCError, reset: Bool)
  /// A call was accepted: it counts as started, and its deadline is armed when the client sent one.
  case begin(GRPCMethod, deadline: TimeAmount?)
  /// Start the method's handler with its input.
  case startHandler(GRPCMethod, GRPCInvocation)
  /// Hand one request message to a client-streaming handler.
  case deliver(ByteBuffer, to: AsyncThrowingStream<ByteBuffer, any Error>.Continuation)
  /// End a client-streaming handler's request stream: cleanly (nil) or with the error its next read throws.
  case endRequests(AsyncThrowingStream<ByteBuffer, any Error>.Continuation, throwing: (any Error)?)
  /// Return this many received bytes to the stream's flow-control window.
  case openWindow(Int)
  /// Cancel the running handler. It records the call itself when it ends.
  case cancelHandler
  /// Record a call whose handler never ran, with the status it ended with.
  case recordEnd(GRPCMethod, RPCError)
  /// Disarm the deadline timer: the call is over.
  case cancelDeadline
  /// The response headers, before a call's first message.
  case writeHeaders
  /// One response message.
  case writeMessage([UInt8])
  /// The trailers that end our side (the whole answer when `trailersOnly`). With `thenReset` the client is
  /// still sending: once the trailers are on the socket the stream is reset (``GRPCCallState/trailersFlushed()``),
  /// not before, since NIOHTTP2 drops an answer still queued behind a reset.
  case writeTrailers(RPCError?, trailersOnly: Bool, thenReset: Bool)
  /// RST_STREAM (NO_ERROR): our trailers are out and nothing the client still sends matters.
  case reset
}
