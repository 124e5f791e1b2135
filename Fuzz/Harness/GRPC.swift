// Fuzz target over Sources/CRIServer/GRPC/GRPCWire.swift: the message framing of a CRI call's request
// stream, delivered in DATA frames cut anywhere, and the grpc-timeout header.
import NIOCore

let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  // First byte: DATA frame size - 1; then the stream's bytes.
  "grpc-frames": { bytes in
    guard let sizes = bytes.first else { return }
    var reader = GRPCMessageReader(maxMessageSize: 64 * 1024)
    let allocator = ByteBufferAllocator()
    var total = 0
    for chunk in fuzzChunks(Array(bytes.dropFirst()), sizes: sizes) {
      reader.append(allocator.buffer(bytes: chunk))
      do {
        while let message = try reader.next() {
          guard message.readableBytes <= 64 * 1024 else { fatalError("grpc: a message of \(message.readableBytes) bytes passed the limit") }
          total += 5 + message.readableBytes
        }
      } catch {
        return
      }
    }
    // Whatever was not taken as messages must still be pending.
    guard total == bytes.count - 1 || reader.hasPartialMessage else {
      fatalError("grpc: \(bytes.count - 1) bytes in, \(total) taken as messages, nothing pending")
    }
  },
  "grpc-timeout": { bytes in
    let text = String(decoding: bytes, as: UTF8.self)
    _ = GRPCWire.timeout(text)
    _ = GRPCWire.percentEncoded(text)
    _ = GRPCWire.isGRPCContentType(text)
  },
]
