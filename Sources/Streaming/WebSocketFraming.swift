import Foundation
import NIOCore
import NIOWebSocket

/// The Kubernetes channel framing on websocket messages, shared by the command and port-forward sessions:
/// reassembles fragmented messages, answers pings, and splits each message into its channel number and
/// body. Binary protocols put the channel in the first byte; the base64 forms send text whose first
/// character is the channel digit and whose rest is base64.
struct WebSocketChannelFraming {
  let base64: Bool
  private var fragments: [UInt8] = []
  private var opcode: WebSocketOpcode = .binary
  /// Messages larger than this end the session (no client sends more than a chunk of stdin).
  static let maximumMessage = 16 << 20

  init(base64: Bool) { self.base64 = base64 }

  enum Event {
    case message(channel: UInt8, body: [UInt8])
    case closed
    case none
  }

  /// Takes one frame; pings are answered on `context` directly.
  mutating func receive(_ frame: WebSocketFrame, context: ChannelHandlerContext) -> Event {
    var payload = frame.unmaskedData
    let bytes = payload.readBytes(length: payload.readableBytes) ?? []
    switch frame.opcode {
    case .ping:
      var buffer = context.channel.allocator.buffer(capacity: bytes.count)
      buffer.writeBytes(bytes)
      context.writeAndFlush(NIOAny(WebSocketFrame(fin: true, opcode: .pong, data: buffer)), promise: nil)
      return .none
    case .connectionClose:
      return .closed
    case .binary, .text:
      opcode = frame.opcode
      fragments = bytes
    case .continuation:
      fragments += bytes
    default:
      return .none
    }
    if fragments.count > Self.maximumMessage { return .closed }
    guard frame.fin, var channel = fragments.first else { return .none }
    var body = Array(fragments.dropFirst())
    fragments = []
    if base64 || opcode == .text {
      guard channel >= 48 else { return .none }
      channel -= 48
      body = Data(base64Encoded: Data(body)).map { Array($0) } ?? []
    }
    return .message(channel: channel, body: body)
  }

  /// A message for `channel` carrying `bytes`.
  func frame(_ channel: UInt8, _ bytes: [UInt8], allocator: ByteBufferAllocator) -> WebSocketFrame {
    var buffer = allocator.buffer(capacity: bytes.count + 1)
    if base64 {
      buffer.writeBytes([48 + channel] + Array(Data(bytes).base64EncodedString().utf8))
      return WebSocketFrame(fin: true, opcode: .text, data: buffer)
    }
    buffer.writeBytes([channel] + bytes)
    return WebSocketFrame(fin: true, opcode: .binary, data: buffer)
  }
}
