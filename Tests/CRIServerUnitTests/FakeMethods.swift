import CRIAPI
@testable import CRIServer
import CrispCore
import GRPCCore
import NIOCore

/// A small method table for the transport tests. The handlers are real code over real CRI messages
/// (`VersionRequest` in, `VersionResponse` out), so requests are decoded and answers encoded as on a daemon's
/// connection; what they do is only what the transport needs exercised.
enum FakeMethods {
  static let unary = "/test.Echo/Unary"
  static let block = "/test.Echo/Block"
  static let stream = "/test.Echo/Stream"
  static let collect = "/test.Echo/Collect"

  static func table(gate: HandlerGate) -> [String: GRPCMethod] {
    let methods: [GRPCMethod] = [
      // "echo <version>"; the version "missing" fails with NOT_FOUND, as a runtime call would.
      .unary(descriptor("Unary")) { (request: Runtime_V1_VersionRequest) in
        if request.version == "missing" { throw CrispError.notFound("no such thing: missing") }
        return Runtime_V1_VersionResponse.with { $0.version = "echo \(request.version)" }
      },
      // Holds until the gate is released (then answers) or the call is cancelled.
      .unary(descriptor("Block")) { (request: Runtime_V1_VersionRequest) in
        try await gate.park()
        return Runtime_V1_VersionResponse.with { $0.version = "released \(request.version)" }
      },
      // Answers with the numbers 1…n for the version "n"; "forever" sends one and then holds, as a subscription.
      .serverStreaming(descriptor("Stream"), endsAtShutdown: true) {
        (request: Runtime_V1_VersionRequest, writer: RPCWriter<Runtime_V1_VersionResponse>) in
        let count = Int(request.version) ?? 1
        for number in 1...max(count, 1) {
          try await writer.write(.with { $0.version = "\(number)" })
        }
        if request.version == "forever" { try await gate.park() }
      },
      // Joins the versions of every request message with commas.
      .clientStreaming(descriptor("Collect")) { (requests: RPCAsyncSequence<Runtime_V1_VersionRequest, any Error>) in
        var versions: [String] = []
        for try await request in requests { versions.append(request.version) }
        return Runtime_V1_VersionResponse.with { $0.version = versions.joined(separator: ",") }
      },
    ]
    return Dictionary(uniqueKeysWithValues: methods.map { ($0.path, $0) })
  }

  static func descriptor(_ method: String) -> MethodDescriptor {
    MethodDescriptor(fullyQualifiedService: "test.Echo", method: method)
  }

  /// One request message, framed as on the wire (flag, length, bytes).
  static func framed(_ version: String) throws -> ByteBuffer {
    let bytes: [UInt8] = try Runtime_V1_VersionRequest.with { $0.version = version }.serializedBytes()
    return GRPCWire.frame(bytes, allocator: ByteBufferAllocator())
  }

  /// The request text of a message body without its frame prefix.
  static func requestText(_ message: ByteBuffer) -> String {
    (try? Runtime_V1_VersionRequest(serializedBytes: Array(message.readableBytesView)))?.version ?? "<\(message.readableBytes) bytes>"
  }
}
