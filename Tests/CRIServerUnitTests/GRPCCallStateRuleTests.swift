@testable import CRIServer
import GRPCCore
import NIOCore
import NIOHPACK
import Testing

/// The rules behind ``GRPCCallState``'s transitions: which request headers open a call, the message limits,
/// how request bytes become messages, and when the stream window is opened again.
@Suite struct GRPCCallStateRuleTests {
  // MARK: request headers

  @Test func onlyGRPCPostsOpenACall() {
    func outcome(_ headers: HPACKHeadersLike, endStream: Bool = false) -> String {
      var call = CallDriver()
      let actions = call.headers(headers.value, endStream: endStream)
      return "\(actions) → \(call.phase)"
    }
    #expect(outcome(.init(method: "GET")) == "refuse 405 +reset → closed")
    #expect(outcome(.init(method: "GET"), endStream: true) == "refuse 405 → closed")
    #expect(outcome(.init(contentType: nil)) == "refuse 415 +reset → closed")
    #expect(outcome(.init(contentType: "application/json")) == "refuse 415 +reset → closed")
    #expect(outcome(.init(contentType: "application/grpc-web")) == "refuse 415 +reset → closed")
    #expect(outcome(.init(contentType: "application/grpc+proto")) == "begin Unary → receiving")
    #expect(outcome(.init(contentType: "application/grpc;charset=utf-8")) == "begin Unary → receiving")
    #expect(outcome(.init(path: "/test.Echo/Nope")) == "refuse /test.Echo/Nope unimplemented +reset → closed")
    #expect(outcome(.init(path: "/test.Echo/Nope"), endStream: true) == "refuse /test.Echo/Nope unimplemented → closed")
  }

  @Test func anUnknownMethodIsNamedInItsStatus() {
    var call = CallDriver()
    let actions = call.state.receivedHeaders(
      CallDriver.requestHeaders("/runtime.v1.RuntimeService/NoSuchCall"), endStream: true, methods: CallDriver.methods)
    guard case .refuseMethod(_, let status, _)? = actions.first else {
      Issue.record("expected a refusal, got \(ActionText.describe(actions))")
      return
    }
    #expect(status.message == "crisp does not serve the method /runtime.v1.RuntimeService/NoSuchCall")
  }

  @Test func theClientsDeadlineIsArmedWhenItParses() {
    var call = CallDriver()
    #expect(call.headers(CallDriver.requestHeaders(FakeMethods.unary, timeout: "250m")) == "begin Unary deadline 250ms")
    var malformed = CallDriver()
    #expect(malformed.headers(CallDriver.requestHeaders(FakeMethods.unary, timeout: "25x")) == "begin Unary")
    var tooLong = CallDriver()
    #expect(tooLong.headers(CallDriver.requestHeaders(FakeMethods.unary, timeout: "123456789S")) == "begin Unary")
  }

  @Test func anExpiredDeadlineNamesTheMethodAndTheTime() throws {
    var call = CallDriver()
    call.headers(CallDriver.requestHeaders(FakeMethods.block, timeout: "1500m"))
    try call.message("a", endStream: true)
    let actions = call.state.deadlineExpired(after: .milliseconds(1500))
    #expect(ActionText.describe(actions) == "cancel handler; disarm deadline; trailers-only deadlineExceeded")
    guard case .writeTrailers(let status?, _, _)? = actions.last else {
      Issue.record("expected trailers last")
      return
    }
    #expect(status.message == "Block did not finish within the caller's deadline of 1500 ms")
  }

  // MARK: message limits

  /// The daemon's limit (16 MiB, what kubelet allows): one byte more is refused from the prefix alone,
  /// before any of it is buffered; exactly the limit is waited for.
  @Test func theSixteenMebibyteCapIsCheckedFromThePrefix() {
    let limit = Daemon.maxReceiveMessageSize
    #expect(limit == 16 * 1024 * 1024)
    var over = CallDriver(maxMessageSize: limit)
    over.open(FakeMethods.unary)
    let overLimit = UInt32(exactly: limit + 1) ?? 0
    #expect(over.bytes(CallDriver.prefix(length: overLimit)) == "record resourceExhausted; disarm deadline; trailers-only resourceExhausted +reset")
    #expect(over.phase == "answered(reset pending)")

    var exact = CallDriver(maxMessageSize: limit)
    exact.open(FakeMethods.unary)
    #expect(exact.bytes(CallDriver.prefix(length: UInt32(exactly: limit) ?? 0)) == "nothing")
    #expect(exact.phase == "receiving")
  }

  @Test func anOversizedMessageSaysHowLarge() {
    var reader = GRPCMessageReader(maxMessageSize: 64)
    reader.append(ByteBuffer(bytes: CallDriver.prefix(length: 65)))
    #expect(throws: RPCError(code: .resourceExhausted, message: "request message of 65 bytes is larger than the 64 crisp accepts")) {
      try reader.next()
    }
  }

  @Test func aCompressedMessageIsUnimplemented() {
    var call = CallDriver()
    call.open(FakeMethods.unary)
    #expect(
      call.bytes(CallDriver.prefix(length: 3, compressed: true) + [1, 2, 3], endStream: true)
        == "record unimplemented; disarm deadline; trailers-only unimplemented +reset")
  }

  @Test func aUnaryCallTakesExactlyOneMessage() throws {
    var two = CallDriver()
    two.open(FakeMethods.unary)
    var frames = try FakeMethods.framed("a")
    frames.writeImmutableBuffer(try FakeMethods.framed("b"))
    #expect(two.bytes(frames, endStream: true) == "record internalError; disarm deadline; trailers-only internalError +reset")

    var none = CallDriver()
    #expect(none.open(FakeMethods.unary, endStream: true) == "begin Unary; record internalError; disarm deadline; trailers-only internalError")
  }

  // MARK: request bytes

  /// However the client cuts a message into DATA frames, the handler gets it whole, once.
  @Test func aMessageSplitAcrossFramesIsReassembled() throws {
    var call = CallDriver()
    call.open(FakeMethods.unary)
    let whole = Array(try FakeMethods.framed("split").readableBytesView)
    #expect(call.bytes(Array(whole[0..<2])) == "nothing")
    #expect(call.bytes(Array(whole[2..<6])) == "nothing")
    #expect(call.bytes(Array(whole[6...]), endStream: true) == "start unary 'split'")
  }

  @Test func aRequestEndingInsideAMessageIsInternal() throws {
    let whole = Array(try FakeMethods.framed("cut").readableBytesView)
    var unary = CallDriver()
    unary.open(FakeMethods.unary)
    let actions = unary.state.receivedData(ByteBuffer(bytes: whole.dropLast()), flowLength: whole.count - 1, endStream: true)
    #expect(ActionText.describe(actions) == "record internalError; disarm deadline; trailers-only internalError")
    if case .writeTrailers(let status?, _, _)? = actions.last {
      #expect(status.message == "the request stream ended inside a message")
    }

    var streaming = CallDriver()
    streaming.open(FakeMethods.collect)
    #expect(
      streaming.bytes(Array(whole.dropLast()), endStream: true)
        == "end requests: internalError the request stream ended inside a message")
  }

  // MARK: flow control

  /// Received bytes go back to the stream's window once half of it is used, not before.
  @Test func theStreamWindowOpensAtHalf() {
    let half = GRPCCallState.initialStreamWindow / 2
    var call = CallDriver(maxMessageSize: 4 << 20)
    call.open(FakeMethods.unary)
    let start = ByteBuffer(bytes: CallDriver.prefix(length: 2 << 20))
    #expect(ActionText.describe(call.state.receivedData(start, flowLength: half - 1, endStream: false)) == "nothing")
    #expect(ActionText.describe(call.state.receivedData(ByteBuffer(bytes: [0]), flowLength: 1, endStream: false)) == "window +\(half)")
    // Counted afresh after an update.
    #expect(ActionText.describe(call.state.receivedData(ByteBuffer(bytes: [0]), flowLength: 1, endStream: false)) == "nothing")
  }

  /// A client-streaming handler that has fallen 4 MiB behind holds its client back: the window opens again
  /// only as the handler takes messages.
  @Test func aSlowClientStreamingHandlerHoldsTheWindow() {
    let size = GRPCCallState.maxBufferedRequestBytes
    var call = CallDriver(maxMessageSize: size)
    call.open(FakeMethods.collect)
    var message = ByteBuffer(bytes: CallDriver.prefix(length: UInt32(exactly: size) ?? 0))
    message.writeRepeatingByte(0, count: size)
    let flowLength = message.readableBytes
    #expect(ActionText.describe(call.state.receivedData(message, flowLength: flowLength, endStream: false)) == "deliver '<\(size) bytes>'")
    #expect(ActionText.describe(call.state.handlerConsumed(1)) == "window +\(flowLength)")
    #expect(ActionText.describe(call.state.handlerConsumed(size - 1)) == "nothing")
  }
}
