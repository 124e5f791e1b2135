@testable import CRIServer
import GRPCCore
import NIOCore
import NIOHPACK

/// A ``GRPCCallState`` driven by events as the connection would feed them; each event returns its actions as
/// text (``ActionText``).
struct CallDriver {
  static let methods = FakeMethods.table(gate: HandlerGate())

  var state: GRPCCallState

  init(maxMessageSize: Int = 64) {
    state = GRPCCallState(maxMessageSize: maxMessageSize)
  }

  var phase: String { ActionText.describe(state.phase) }

  static func requestHeaders(
    _ path: String, method: String = "POST", contentType: String? = "application/grpc", timeout: String? = nil
  ) -> HPACKHeaders {
    var headers: HPACKHeaders = [":method": method, ":scheme": "http", ":path": path, ":authority": "localhost"]
    if let contentType { headers.add(name: "content-type", value: contentType) }
    if let timeout { headers.add(name: "grpc-timeout", value: timeout) }
    return headers
  }

  @discardableResult
  mutating func headers(_ headers: HPACKHeaders, endStream: Bool = false) -> String {
    ActionText.describe(state.receivedHeaders(headers, endStream: endStream, methods: Self.methods))
  }

  @discardableResult
  mutating func open(_ path: String, endStream: Bool = false) -> String {
    headers(Self.requestHeaders(path), endStream: endStream)
  }

  /// One whole request message in one DATA frame.
  @discardableResult
  mutating func message(_ version: String, endStream: Bool = false) throws -> String {
    bytes(try FakeMethods.framed(version), endStream: endStream)
  }

  @discardableResult
  mutating func bytes(_ buffer: ByteBuffer, endStream: Bool = false) -> String {
    ActionText.describe(state.receivedData(buffer, flowLength: buffer.readableBytes, endStream: endStream))
  }

  @discardableResult
  mutating func bytes(_ bytes: [UInt8], endStream: Bool = false) -> String {
    self.bytes(ByteBuffer(bytes: bytes), endStream: endStream)
  }

  /// A frame prefix (flag, big-endian length) alone: the start of a message.
  static func prefix(length: UInt32, compressed: Bool = false) -> [UInt8] {
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt8(compressed ? 1 : 0))
    buffer.writeInteger(length)
    return Array(buffer.readableBytesView)
  }
}
