@testable import CRIServer
import NIOCore
import NIOEmbedded
import NIOHTTP2
import Testing

/// The connection handler frame by frame on an `EmbeddedChannel`: request frames in, the exact frames of
/// the answer out, each call's handler run on the embedded loop. No daemon, no socket, no root.
@Suite struct GRPCConnectionHandlerTests {
  static let okHeaders = "HEADERS :status=200 content-type=application/grpc"

  static func trailersOnly(_ stream: Int, status: Int, _ message: String) -> String {
    "\(stream) HEADERS+end :status=200 content-type=application/grpc grpc-status=\(status) grpc-message=\(message)"
  }

  @Test func aUnaryCallGetsHeadersDataAndTrailers() throws {
    let connection = try ConnectionHarness()
    try connection.open(FakeMethods.unary)
    #expect(try connection.written() == [])
    try connection.message("hi")
    #expect(try connection.written() == ["1 \(Self.okHeaders)", "1 DATA 'echo hi'", "1 HEADERS+end grpc-status=0"])
    #expect(connection.calls.recorded == ["Unary ok"])
  }

  @Test func aHandlersErrorIsItsStatus() throws {
    let connection = try ConnectionHarness()
    try connection.open(FakeMethods.unary)
    try connection.message("missing")
    #expect(try connection.written() == [Self.trailersOnly(1, status: 5, "no such thing: missing")])
    #expect(connection.calls.recorded == ["Unary notFound"])
  }

  /// Refused from its length prefix: the handler never runs, and the client, still sending, gets a reset
  /// after the trailers.
  @Test func aMessageOverTheLimitIsResourceExhausted() throws {
    let connection = try ConnectionHarness(maxMessageSize: 1024)
    try connection.open(FakeMethods.block)
    try connection.bytes(CallDriver.prefix(length: 1025) + [1, 2, 3], endStream: false)
    #expect(
      try connection.written() == [
        Self.trailersOnly(1, status: 8, "request message of 1025 bytes is larger than the 1024 crisp accepts"),
        "1 RST_STREAM \(HTTP2ErrorCode.noError)",
      ])
    #expect(connection.gate.entered == 0)
    #expect(connection.calls.recorded == ["Block resourceExhausted"])
    // Whatever else the client sends for it is dropped.
    try connection.message("late")
    #expect(try connection.written() == [])
  }

  @Test func aWrongContentTypeIsHTTP415() throws {
    let connection = try ConnectionHarness()
    try connection.open(CallDriver.requestHeaders(FakeMethods.unary, contentType: "application/json"))
    #expect(try connection.written() == ["1 HEADERS+end :status=415", "1 RST_STREAM \(HTTP2ErrorCode.noError)"])
    try connection.open(CallDriver.requestHeaders(FakeMethods.unary, method: "GET"), on: 3, endStream: true)
    #expect(try connection.written() == ["3 HEADERS+end :status=405"])
    #expect(connection.calls.recorded == [])
  }

  @Test func anUnknownMethodIsUnimplemented() throws {
    let connection = try ConnectionHarness()
    try connection.open("/test.Echo/Nope")
    #expect(
      try connection.written() == [
        Self.trailersOnly(1, status: 12, "crisp does not serve the method /test.Echo/Nope"),
        "1 RST_STREAM \(HTTP2ErrorCode.noError)",
      ])
    #expect(connection.calls.recorded == ["/test.Echo/Nope unimplemented"])
  }

  @Test func aTruncatedMessageIsInternal() throws {
    let connection = try ConnectionHarness()
    try connection.open(FakeMethods.block)
    try connection.bytes(CallDriver.prefix(length: 10) + [1, 2, 3], endStream: true)
    #expect(try connection.written() == [Self.trailersOnly(1, status: 13, "the request stream ended inside a message")])
    #expect(connection.gate.entered == 0)
  }

  @Test func endStreamBeforeAnyMessageIsInternal() throws {
    let connection = try ConnectionHarness()
    try connection.open(FakeMethods.unary, endStream: true)
    #expect(try connection.written() == [Self.trailersOnly(1, status: 13, "Unary needs a request message; the client sent none")])
    #expect(connection.calls.recorded == ["Unary internalError"])
  }

  /// The client resets the stream while its handler runs: the handler is cancelled, recorded once, and
  /// nothing more is written for the stream.
  @Test func rstStreamCancelsTheRunningHandler() throws {
    let connection = try ConnectionHarness()
    try connection.open(FakeMethods.block)
    try connection.message("x")
    #expect(connection.gate.entered == 1)
    #expect(try connection.written() == [])
    try connection.reset(1)
    #expect(connection.gate.cancellations == 1)
    #expect(try connection.written() == [])
    #expect(connection.calls.recorded == ["Block cancelled"])
    // Another call on the same connection is unharmed.
    try connection.open(FakeMethods.unary, on: 3)
    try connection.message("again", on: 3)
    #expect(try connection.written() == ["3 \(Self.okHeaders)", "3 DATA 'echo again'", "3 HEADERS+end grpc-status=0"])
  }

  @Test func aClosedConnectionCancelsItsCalls() throws {
    let connection = try ConnectionHarness()
    try connection.open(FakeMethods.block)
    try connection.message("x")
    try connection.channel.close().wait()
    connection.loop.run()
    #expect(connection.gate.cancellations == 1)
    #expect(connection.calls.recorded == ["Block cancelled"])
  }

  /// The server ends the call at the deadline the client sent (grpc-timeout), and cancels its handler.
  @Test func theClientsDeadlineEndsTheCall() throws {
    let connection = try ConnectionHarness()
    try connection.open(FakeMethods.block, timeout: "100m")
    try connection.message("x")
    connection.loop.advanceTime(by: .milliseconds(99))
    #expect(try connection.written() == [])
    connection.loop.advanceTime(by: .milliseconds(1))
    #expect(try connection.written() == [Self.trailersOnly(1, status: 4, "Block did not finish within the caller's deadline of 100 ms")])
    #expect(connection.gate.cancellations == 1)
  }

  @Test func aServerStreamingCallSendsEachMessage() throws {
    let connection = try ConnectionHarness()
    try connection.open(FakeMethods.stream)
    try connection.message("3")
    #expect(
      try connection.written() == [
        "1 \(Self.okHeaders)", "1 DATA '1'", "1 DATA '2'", "1 DATA '3'", "1 HEADERS+end grpc-status=0",
      ])
  }

  @Test func aClientStreamingCallTakesEachMessage() throws {
    let connection = try ConnectionHarness()
    try connection.open(FakeMethods.collect)
    try connection.message("a", endStream: false)
    try connection.message("b", endStream: false)
    #expect(try connection.written() == [])
    try connection.message("c", endStream: true)
    #expect(try connection.written() == ["1 \(Self.okHeaders)", "1 DATA 'a,b,c'", "1 HEADERS+end grpc-status=0"])
  }

  /// Graceful shutdown: GOAWAY, subscriptions end with UNAVAILABLE, other calls finish, and the connection
  /// closes once its last stream has.
  @Test func shutdownEndsSubscriptionsAndDrains() throws {
    let connection = try ConnectionHarness()
    try connection.open(FakeMethods.stream)
    try connection.message("forever")
    try connection.open(FakeMethods.block, on: 3)
    try connection.message("x", on: 3)
    #expect(try connection.written() == ["1 \(Self.okHeaders)", "1 DATA '1'"])

    connection.handler.beginShutdown()
    #expect(
      try connection.written() == [
        "0 GOAWAY last=3 \(HTTP2ErrorCode.noError)", "1 HEADERS+end grpc-status=14 grpc-message=crisp is shutting down",
      ])
    connection.streamClosed(1)
    #expect(connection.channel.isActive)

    connection.gate.release()
    connection.loop.run()
    #expect(try connection.written() == ["3 \(Self.okHeaders)", "3 DATA 'released x'", "3 HEADERS+end grpc-status=0"])
    connection.streamClosed(3)
    #expect(try connection.written() == ["0 GOAWAY last=3 \(HTTP2ErrorCode.noError)"])
    #expect(!connection.channel.isActive)
  }
}
