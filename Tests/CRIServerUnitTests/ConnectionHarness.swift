import CRIAPI
@testable import CRIServer
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2

/// A ``GRPCConnectionHandler`` alone on an `EmbeddedChannel`, fed HTTP/2 frames as NIOHTTP2Handler would pass
/// them up, with every call's handler running on the embedded loop: a test writes a frame, runs the loop,
/// and reads what the connection wrote, frame by frame, as text.
final class ConnectionHarness {
  let loop = EmbeddedEventLoop()
  let channel: EmbeddedChannel
  let handler: GRPCConnectionHandler
  let gate = HandlerGate()
  let calls = CallLog()

  init(maxMessageSize: Int = 1024) throws {
    channel = EmbeddedChannel(loop: loop)
    let executor = EmbeddedLoopExecutor(loop)
    handler = GRPCConnectionHandler(
      environment: GRPCServerEnvironment(
        methods: FakeMethods.table(gate: gate), loopExecutor: executor,
        recorder: CallRecorder(logger: calls.logger, trimmer: nil), maxMessageSize: maxMessageSize,
        poolExecutor: executor))
    try channel.pipeline.syncOperations.addHandler(handler)
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
  }

  deinit {
    // Ends whatever a test left running, so no task outlives its loop.
    gate.release()
    loop.run()
    _ = try? channel.finish(acceptAlreadyClosed: true)
  }

  func send(_ payload: HTTP2Frame.FramePayload, on stream: Int = 1) throws {
    try channel.writeInbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: payload))
    loop.run()
  }

  func open(_ path: String, on stream: Int = 1, endStream: Bool = false, timeout: String? = nil) throws {
    try send(.headers(.init(headers: CallDriver.requestHeaders(path, timeout: timeout), endStream: endStream)), on: stream)
  }

  func open(_ headers: HPACKHeaders, on stream: Int = 1, endStream: Bool = false) throws {
    try send(.headers(.init(headers: headers, endStream: endStream)), on: stream)
  }

  func message(_ version: String, on stream: Int = 1, endStream: Bool = true) throws {
    try send(.data(.init(data: .byteBuffer(try FakeMethods.framed(version)), endStream: endStream)), on: stream)
  }

  func bytes(_ bytes: [UInt8], on stream: Int = 1, endStream: Bool = true) throws {
    try send(.data(.init(data: .byteBuffer(ByteBuffer(bytes: bytes)), endStream: endStream)), on: stream)
  }

  func reset(_ stream: Int = 1) throws {
    try send(.rstStream(.cancel), on: stream)
  }

  /// What NIOHTTP2Handler reports once a stream is closed on both sides.
  func streamClosed(_ stream: Int) {
    channel.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: HTTP2StreamID(stream), reason: nil))
    loop.run()
  }

  /// Every frame written and flushed since the last call, as text.
  func written() throws -> [String] {
    var frames: [String] = []
    while let frame = try channel.readOutbound(as: HTTP2Frame.self) {
      frames.append(FrameText.describe(frame))
    }
    return frames
  }
}
