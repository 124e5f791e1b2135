import GRPCCore
import NIOCore

/// Splits one stream's request bytes into messages, however the client cut them into DATA frames.
struct GRPCMessageReader {
  /// Larger messages are refused before they are buffered.
  let maxMessageSize: Int
  private var pending: ByteBuffer?

  init(maxMessageSize: Int) {
    self.maxMessageSize = maxMessageSize
  }

  /// True while part of a message has arrived and the rest has not.
  var hasPartialMessage: Bool { (pending?.readableBytes ?? 0) > 0 }

  mutating func append(_ data: ByteBuffer) {
    if hasPartialMessage {
      // In place: a message spread over many frames is copied once as it grows, not once per frame.
      pending?.writeImmutableBuffer(data)
    } else {
      // The usual case, a whole message in one frame, keeps the frame's own buffer.
      pending = data
    }
  }

  /// The next complete message, or nil until more bytes arrive.
  mutating func next() throws(RPCError) -> ByteBuffer? {
    guard var buffer = pending, buffer.readableBytes >= GRPCWire.prefixLength,
      let flag = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
      let length = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self)
    else { return nil }
    guard flag == 0 else {
      throw RPCError(code: .unimplemented, message: "compressed messages are not supported: send messages uncompressed (grpc-encoding identity)")
    }
    guard Int(length) <= maxMessageSize else {
      throw RPCError(code: .resourceExhausted, message: "request message of \(length) bytes is larger than the \(maxMessageSize) crisp accepts")
    }
    guard buffer.readableBytes >= GRPCWire.prefixLength + Int(length) else { return nil }
    buffer.moveReaderIndex(forwardBy: GRPCWire.prefixLength)
    guard let message = buffer.readSlice(length: Int(length)) else { return nil }
    pending = buffer.readableBytes > 0 ? buffer : nil
    return message
  }
}
