import Foundation
import NIOCore
import NIOWebSocket

/// The Kubernetes channel framing on websocket messages, shared by the command and port-forward sessions:
/// reassembles fragmented messages, answers pings, and splits each message into its channel number and
/// body. Binary protocols put the channel in the first byte; the base64 forms send text whose first
/// character is the channel digit (`"0"` + channel) and whose rest is base64.
struct WebSocketChannelFraming {
  let base64: Bool
  private var fragments: [UInt8] = []
  private var opcode: WebSocketOpcode = .binary
  /// The payload of the latest ping not yet answered because the connection was not writable.
  private var unansweredPing: [UInt8]?
  /// Messages larger than this end the session (no client sends more than a chunk of stdin).
  static let maximumMessage = 16 << 20

  init(base64: Bool) { self.base64 = base64 }

  /// The highest channel a message can name: a byte's worth in binary, and in base64 as far as the channel
  /// digit stays ASCII (text messages must be UTF-8): `"0"` (48) + 79 = 127.
  static func maximumChannel(base64: Bool) -> UInt8 { base64 ? 127 - 48 : 255 }

  enum Event: Equatable {
    case message(channel: UInt8, body: [UInt8])
    case closed
    case none
  }

  /// Takes one frame. Pings are answered on `context` while it is writable; otherwise only the latest is kept
  /// and answered once it is (RFC 6455 5.5.3 lets an endpoint answer just the most recent ping), so a client
  /// that pings without reading gets no queue of pongs.
  mutating func receive(_ frame: WebSocketFrame, context: ChannelHandlerContext) -> Event {
    var payload = frame.unmaskedData
    let bytes = payload.readBytes(length: payload.readableBytes) ?? []
    if frame.opcode == .ping {
      unansweredPing = bytes
      answerPing(context: context)
      return .none
    }
    return receive(opcode: frame.opcode, fin: frame.fin, bytes)
  }

  /// The frame-level part of ``receive(_:context:)``, apart from pings.
  mutating func receive(opcode frameOpcode: WebSocketOpcode, fin: Bool, _ bytes: [UInt8]) -> Event {
    switch frameOpcode {
    case .connectionClose:
      return .closed
    case .binary, .text:
      guard bytes.count <= Self.maximumMessage else { return .closed }
      opcode = frameOpcode
      fragments = bytes
    case .continuation:
      guard bytes.count <= Self.maximumMessage - fragments.count else { return .closed }
      fragments += bytes
    default:
      return .none
    }
    guard fin, var channel = fragments.first else { return .none }
    var body = Array(fragments.dropFirst())
    fragments = []
    if base64 || opcode == .text {
      guard channel >= 48 else { return .none }
      channel -= 48
      body = Data(base64Encoded: Data(body)).map { Array($0) } ?? []
    }
    return .message(channel: channel, body: body)
  }

  /// Answers the ping kept by ``receive(_:context:)`` if the connection takes writes now; call again when it
  /// becomes writable.
  mutating func answerPing(context: ChannelHandlerContext) {
    guard let bytes = unansweredPing, context.channel.isWritable else { return }
    unansweredPing = nil
    var buffer = context.channel.allocator.buffer(capacity: bytes.count)
    buffer.writeBytes(bytes)
    context.writeAndFlush(NIOAny(WebSocketFrame(fin: true, opcode: .pong, data: buffer)), promise: nil)
  }

  /// The first byte of a message for `channel`; nil for a channel this framing cannot name.
  func prefix(_ channel: UInt8) -> UInt8? {
    guard channel <= Self.maximumChannel(base64: base64) else { return nil }
    return base64 ? 48 + channel : channel
  }

  /// A message for `channel` carrying `bytes`; nil for a channel this framing cannot name (the sessions only
  /// open channels it can).
  func frame(_ channel: UInt8, _ bytes: [UInt8], allocator: ByteBufferAllocator) -> WebSocketFrame? {
    guard let first = prefix(channel) else { return nil }
    if base64 {
      let encoded = Data(bytes).base64EncodedString().utf8
      var buffer = allocator.buffer(capacity: encoded.count + 1)
      buffer.writeInteger(first)
      buffer.writeBytes(encoded)
      return WebSocketFrame(fin: true, opcode: .text, data: buffer)
    }
    var buffer = allocator.buffer(capacity: bytes.count + 1)
    buffer.writeInteger(first)
    buffer.writeBytes(bytes)
    return WebSocketFrame(fin: true, opcode: .binary, data: buffer)
  }
}
