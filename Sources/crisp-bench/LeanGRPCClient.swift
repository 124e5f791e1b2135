import CRIAPI
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import SwiftProtobuf

/// A gRPC client with almost no cost of its own: one HTTP/2 connection, unary calls (several may run at
/// once, each on a stream of its own, as kubelet's goroutines share one connection), frames written directly.
///
/// Why: grpc-swift's client spends about half a millisecond per call on its own, which is most of what a
/// steady-state ListContainers takes and the same for every runtime measured, so it hides the servers'
/// differences. kubelet's grpc-go client costs a small fraction of that; this client is closer to it. The
/// rows measured with it say so ("lean HTTP/2 client").
final class LeanGRPCClient: Sendable {
  private let channel: any Channel
  private let responses: ResponseHandler

  private init(channel: any Channel, responses: ResponseHandler) {
    self.channel = channel
    self.responses = responses
  }

  static func connect(unixSocket path: String, group: any EventLoopGroup) async throws -> LeanGRPCClient {
    let responses = ResponseHandler()
    let channel = try await ClientBootstrap(group: group)
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          var configuration = NIOHTTP2Handler.ConnectionConfiguration()
          configuration.initialSettings = [
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20), HTTP2Setting(parameter: .maxFrameSize, value: 1 << 20),
          ]
          // grpc-go's server (containerd) sends a BDP PING with each answer; NIOHTTP2's default allowance
          // (200 in 30 s) would end the connection mid-run.
          configuration.controlFrameRateLimit.maximumCount = 30_000
          try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .client, frameDelegate: nil, connectionConfiguration: configuration))
          try channel.pipeline.syncOperations.addHandler(responses)
        }
      }
      .connect(unixDomainSocketPath: path)
      .get()
    return LeanGRPCClient(channel: channel, responses: responses)
  }

  /// One unary call, answered with the response message's bytes; throws on any status but OK. The bytes
  /// are not decoded here: decoding is the client's own work (and SwiftProtobuf's is much slower than
  /// grpc-go's), the same for every server, so the timed part ends when the answer has arrived.
  ///
  /// A call not answered within `timeout` fails (the bench must not hang on a stuck runtime); the server is
  /// told the same deadline through `grpc-timeout`.
  func call(_ path: String, _ request: some Message, timeout: Duration = .seconds(120)) async throws -> [UInt8] {
    let body = try request.serializedBytes() as [UInt8]
    let milliseconds = max(1, Int64(timeout.components.seconds) * 1000 + Int64(timeout.components.attoseconds / 1_000_000_000_000_000))
    return try await channel.eventLoop.flatSubmit { [responses] in
      responses.start(path: path, message: body, timeoutMilliseconds: milliseconds)
    }.get()
  }

  func close() async {
    try? await channel.close()
  }

  struct CallFailed: Error, CustomStringConvertible {
    let status: String
    let message: String
    var description: String { "grpc-status \(status): \(message)" }
  }

  /// Collects the running calls' answers, by stream. Used only on the channel's event loop.
  private final class ResponseHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private struct Pending {
      var promise: EventLoopPromise<[UInt8]>
      var body: ByteBuffer
      var status: String?
      var message: String
      var deadline: Scheduled<Void>?
    }

    private var context: ChannelHandlerContext?
    private var nextStreamID = HTTP2StreamID(1)
    private var pending: [HTTP2StreamID: Pending] = [:]
    private var unreturnedWindow = 0

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func start(path: String, message: [UInt8], timeoutMilliseconds: Int64) -> EventLoopFuture<[UInt8]> {
      guard let context else { return MultiThreadedEventLoopGroup.singleton.any().makeFailedFuture(ChannelError.ioOnClosedChannel) }
      // A peer that went away (a daemon that died mid-run) fails each later call at once, not at its deadline.
      guard context.channel.isActive else { return context.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
      let promise = context.eventLoop.makePromise(of: [UInt8].self)
      let id = nextStreamID
      // Client streams are odd and below 2^31; a connection this long-lived is not expected here.
      guard Int32(id) < Int32.max - 2 else { return context.eventLoop.makeFailedFuture(CallFailed(status: "client", message: "stream ids used up")) }
      nextStreamID = HTTP2StreamID(Int32(id) + 2)
      let deadline = context.eventLoop.scheduleTask(in: .milliseconds(timeoutMilliseconds)) { [weak self] in
        guard let call = self?.pending.removeValue(forKey: id) else { return }
        call.promise.fail(CallFailed(status: "client timeout", message: "\(path) not answered in \(timeoutMilliseconds) ms"))
      }
      pending[id] = Pending(promise: promise, body: context.channel.allocator.buffer(capacity: 0), status: nil, message: "", deadline: deadline)
      let headers: HPACKHeaders = [
        ":method": "POST", ":scheme": "http", ":path": path, ":authority": "localhost",
        "content-type": "application/grpc", "te": "trailers", "grpc-timeout": "\(timeoutMilliseconds)m",
      ]
      var data = context.channel.allocator.buffer(capacity: 5 + message.count)
      data.writeInteger(UInt8(0))
      data.writeInteger(UInt32(message.count))
      data.writeBytes(message)
      context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers)))), promise: nil)
      context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(data), endStream: true)))), promise: nil)
      return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
      let frame = unwrapInboundIn(data)
      switch frame.payload {
      case .data(let payload):
        guard case .byteBuffer(var bytes) = payload.data else { return }
        // Hand the connection window back; each call's stream is new, so only the connection's runs down.
        unreturnedWindow += bytes.readableBytes
        if unreturnedWindow >= 1 << 15 {
          context.writeAndFlush(
            wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: unreturnedWindow))), promise: nil)
          unreturnedWindow = 0
        }
        guard pending[frame.streamID] != nil else { return }
        pending[frame.streamID]?.body.writeBuffer(&bytes)
        if payload.endStream { complete(frame.streamID) }
      case .headers(let headers):
        guard pending[frame.streamID] != nil else { return }
        if let status = headers.headers.first(name: "grpc-status") {
          pending[frame.streamID]?.status = status
          pending[frame.streamID]?.message = headers.headers.first(name: "grpc-message") ?? ""
        }
        if headers.endStream { complete(frame.streamID) }
      case .rstStream(let code):
        guard let call = pending.removeValue(forKey: frame.streamID) else { return }
        call.deadline?.cancel()
        call.promise.fail(CallFailed(status: "reset", message: "\(code)"))
      default:
        break
      }
    }

    func channelInactive(context: ChannelHandlerContext) {
      let calls = pending.values
      pending = [:]
      for call in calls {
        call.deadline?.cancel()
        call.promise.fail(ChannelError.ioOnClosedChannel)
      }
      context.fireChannelInactive()
    }

    private func complete(_ id: HTTP2StreamID) {
      guard var call = pending.removeValue(forKey: id) else { return }
      call.deadline?.cancel()
      guard call.status == "0" else {
        return call.promise.fail(CallFailed(status: call.status ?? "missing", message: call.message))
      }
      guard call.body.readableBytes >= 5, let length = call.body.getInteger(at: call.body.readerIndex + 1, as: UInt32.self),
        call.body.readableBytes == 5 + Int(length)
      else {
        return call.promise.fail(CallFailed(status: "0", message: "the answer is not exactly one message"))
      }
      call.body.moveReaderIndex(forwardBy: 5)
      call.promise.succeed(call.body.readBytes(length: Int(length)) ?? [])
    }
  }
}
