import GRPCCore
import NIOCore
import NIOHPACK

/// The gRPC-over-HTTP/2 conventions crisp's server speaks, in one place: message framing, `grpc-timeout`,
/// and the header blocks of an answer.
enum GRPCWire {
  /// Every message on a stream is a 1-byte compressed flag, a 4-byte big-endian length, then the bytes.
  static let prefixLength = 5

  /// The headers that open every answer. Built once: every call sends the same two.
  static let responseHeaders: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]

  /// `application/grpc`, alone or with a `+format` or `;parameters` suffix; `application/grpc-web` is
  /// another protocol.
  static func isGRPCContentType(_ value: String) -> Bool {
    let base = "application/grpc"
    guard value.hasPrefix(base) else { return false }
    let rest = value.dropFirst(base.count)
    return rest.isEmpty || rest.hasPrefix("+") || rest.hasPrefix(";")
  }

  /// Frames one message for a DATA frame.
  static func frame(_ message: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
    var buffer = allocator.buffer(capacity: prefixLength + message.count)
    buffer.writeInteger(UInt8(0))
    buffer.writeInteger(UInt32(truncatingIfNeeded: message.count))
    buffer.writeBytes(message)
    return buffer
  }

  /// The trailers that end an answer; with `trailersOnly` they are the whole answer (an error before any
  /// message), so they carry the response headers too.
  static func trailers(_ status: RPCError?, trailersOnly: Bool) -> HPACKHeaders {
    var headers: HPACKHeaders = trailersOnly ? responseHeaders : [:]
    headers.add(name: "grpc-status", value: status.map { String($0.code.rawValue) } ?? "0")
    if let status, !status.message.isEmpty {
      headers.add(name: "grpc-message", value: percentEncoded(status.message))
    }
    return headers
  }

  /// `grpc-message` is percent-encoded UTF-8: printable ASCII other than `%` passes unchanged.
  static func percentEncoded(_ message: String) -> String {
    let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(message.utf8.count)
    for byte in message.utf8 {
      if byte >= 0x20, byte <= 0x7E, byte != UInt8(ascii: "%") {
        out.append(byte)
      } else {
        out.append(UInt8(ascii: "%"))
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0x0F)])
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Parses `grpc-timeout`: at most eight digits and a unit (H, M, S, m, u, n). A malformed value is nil,
  /// and the call then runs without a deadline, as other gRPC servers treat it.
  static func timeout(_ value: String) -> TimeAmount? {
    let utf8 = Array(value.utf8)
    guard utf8.count >= 2, utf8.count <= 9, let unit = utf8.last else { return nil }
    var amount: Int64 = 0
    for byte in utf8.dropLast() {
      guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
      amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
    }
    let nanosecondsPerUnit: Int64
    switch unit {
    case UInt8(ascii: "H"): nanosecondsPerUnit = 3_600_000_000_000
    case UInt8(ascii: "M"): nanosecondsPerUnit = 60_000_000_000
    case UInt8(ascii: "S"): nanosecondsPerUnit = 1_000_000_000
    case UInt8(ascii: "m"): nanosecondsPerUnit = 1_000_000
    case UInt8(ascii: "u"): nanosecondsPerUnit = 1_000
    case UInt8(ascii: "n"): nanosecondsPerUnit = 1
    default: return nil
    }
    // 99999999H does not fit in nanoseconds; a deadline centuries away is no deadline.
    let (nanoseconds, overflow) = amount.multipliedReportingOverflow(by: nanosecondsPerUnit)
    return overflow ? nil : .nanoseconds(nanoseconds)
  }
}
