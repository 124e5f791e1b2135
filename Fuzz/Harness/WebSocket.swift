// Fuzz target over Sources/Streaming/WebSocketFraming.swift: a websocket client's bytes through NIO's frame
// decoder (as StreamServer configures it) into the Kubernetes channel framing, binary or base64.
import NIOCore
import NIOEmbedded
import NIOWebSocket

let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  // First byte: bit 0 = base64 protocol, the rest = read size - 1 (in 2-byte steps); then the client's bytes.
  "websocket": { bytes in
    guard let mode = bytes.first else { return }
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish() }
    do {
      try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 16)))
      try channel.pipeline.syncOperations.addHandler(FramingProbe(base64: mode & 1 == 1))
      for chunk in fuzzChunks(Array(bytes.dropFirst()), sizes: mode >> 1) {
        try channel.writeInbound(channel.allocator.buffer(bytes: chunk))
        while try channel.readOutbound(as: WebSocketFrame.self) != nil {}
      }
    } catch {
      return
    }
  }
]

/// Feeds each frame to the channel framing and checks what comes out.
final class FramingProbe: ChannelInboundHandler {
  typealias InboundIn = WebSocketFrame
  private var framing: WebSocketChannelFraming

  init(base64: Bool) { framing = WebSocketChannelFraming(base64: base64) }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch framing.receive(unwrapInboundIn(data), context: context) {
    case .message(let channel, let body):
      _ = (channel, body.count)
    case .closed:
      context.close(promise: nil)
    case .none:
      break
    }
  }
}
