import CRIAPI
import NIOCore
import NIOHTTP2

/// HTTP/2 frames as short text: the stream, the kind, and what matters of it.
enum FrameText {
  static func describe(_ frame: HTTP2Frame) -> String {
    let stream = Int(frame.streamID)
    switch frame.payload {
    case .headers(let headers):
      let fields = headers.headers.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
      return "\(stream) HEADERS\(headers.endStream ? "+end" : "") \(fields)"
    case .data(let data):
      guard case .byteBuffer(var bytes) = data.data else { return "\(stream) DATA file" }
      return "\(stream) DATA\(data.endStream ? "+end" : "") \(response(&bytes))"
    case .rstStream(let code):
      return "\(stream) RST_STREAM \(code)"
    case .windowUpdate(let increment):
      return "\(stream) WINDOW_UPDATE \(increment)"
    case .goAway(let lastStreamID, let code, _):
      return "\(stream) GOAWAY last=\(Int(lastStreamID)) \(code)"
    default:
      return "\(stream) \(frame.payload)"
    }
  }

  /// One framed `VersionResponse`, as its version text in quotes.
  static func response(_ bytes: inout ByteBuffer) -> String {
    guard bytes.readInteger(as: UInt8.self) == 0, let length = bytes.readInteger(as: UInt32.self),
      let body = bytes.readBytes(length: Int(length)), bytes.readableBytes == 0,
      let message = try? Runtime_V1_VersionResponse(serializedBytes: body)
    else { return "<\(bytes.readableBytes) unexpected bytes>" }
    return "'\(message.version)'"
  }
}
