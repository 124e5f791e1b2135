// Fuzz targets over Sources/SPDY: the frames a kubectl exec/attach/port-forward client sends (one framer per
// connection, header blocks sharing its zlib stream), delivered in reads cut anywhere, and header blocks.
let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  // First byte: read size - 1; then the connection's bytes.
  "spdy-frames": { bytes in
    guard let sizes = bytes.first, let framer = try? SPDYFramer() else { return }
    var buffer: [UInt8] = []
    var start = 0
    for chunk in fuzzChunks(Array(bytes.dropFirst()), sizes: sizes) {
      buffer += chunk
      do {
        while true {
          _ = SPDYFramer.pendingDataStream(buffer, start)
          guard let frame = try framer.decode(&buffer, consumedFrom: &start) else { break }
          _ = frame
        }
      } catch {
        return
      }
      buffer.removeFirst(start)
      start = 0
    }
  },
  "spdy-headers": { bytes in
    _ = try? SPDYFramer.parseHeaderBlock(bytes)
  },
]
