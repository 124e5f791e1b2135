import CrispCore
import CZlib
import CZstd
import Glibc
import Registry
import Store
import OCI

/// A pull-based stream of bytes: how layer content flows from a blob file, through decompression and
/// hashing, into the tar reader, without holding a layer in memory.
protocol ByteSource {
  /// Fills up to `buffer.count` bytes; returns 0 at end of stream.
  mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(CrispError) -> Int
}

/// Reads a file descriptor.
struct FileSource: ByteSource {
  let fd: Int32
  let path: String

  mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(CrispError) -> Int {
    let n = retryingOnInterrupt { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    guard n >= 0 else { throw CrispError.from(SystemError.last("read", path)) }
    return n
  }
}

/// Reads bytes that are already in memory.
struct MemorySource: ByteSource {
  let bytes: [UInt8]
  var offset = 0

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(CrispError) -> Int {
    let n = min(buffer.count, bytes.count - offset)
    guard n > 0 else { return 0 }
    bytes.withUnsafeBytes { source in
      buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<offset + n]))
    }
    offset += n
    return n
  }
}

/// Passes bytes through while computing their sha256 and count: a layer's diff ID is the digest of its
/// uncompressed tar stream.
struct HashingSource<Inner: ByteSource>: ByteSource {
  var inner: Inner
  var hasher = SHA256Stream()
  var count: Int64 = 0

  init(_ inner: Inner) { self.inner = inner }

  mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(CrispError) -> Int {
    let n = try inner.read(into: buffer)
    if n > 0 {
      hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
      count += Int64(n)
    }
    return n
  }

  /// Reads to the end (a tar stream's trailing padding still counts toward its digest).
  mutating func drain() throws(CrispError) {
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    defer { scratch.deallocate() }
    while try read(into: scratch) > 0 {}
  }
}

/// gzip (and zlib) decompression through the system zlib; handles multi-member files.
final class GzipSource<Inner: ByteSource>: ByteSource {
  private var inner: Inner
  private var stream = z_stream()
  private let input: UnsafeMutablePointer<UInt8>
  private let inputCapacity = 256 * 1024
  private var finished = false
  private var initialized = false
  let name: String

  init(_ inner: Inner, name: String) throws(CrispError) {
    self.inner = inner
    self.name = name
    input = .allocate(capacity: inputCapacity)
    // 15 window bits + 32: detect gzip or zlib headers.
    let status = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else {
      input.deallocate()
      throw CrispError.internalError("\(name): zlib init failed (\(status))")
    }
    initialized = true
  }

  deinit {
    if initialized { inflateEnd(&stream) }
    input.deallocate()
  }

  func read(into buffer: UnsafeMutableRawBufferPointer) throws(CrispError) -> Int {
    guard !finished, let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
    stream.next_out = base.assumingMemoryBound(to: UInt8.self)
    stream.avail_out = UInt32(min(buffer.count, Int(UInt32.max)))
    while stream.avail_out > 0 {
      if stream.avail_in == 0 {
        let n = try inner.read(into: UnsafeMutableRawBufferPointer(start: input, count: inputCapacity))
        if n == 0 {
          let produced = buffer.count - Int(stream.avail_out)
          if produced > 0 { return produced }
          throw CrispError.invalidArgument("\(name): gzip stream is truncated")
        }
        stream.next_in = input
        stream.avail_in = UInt32(n)
      }
      let status = inflate(&stream, Z_NO_FLUSH)
      if status == Z_STREAM_END {
        // Another gzip member may follow; if not, this is the end.
        if stream.avail_in == 0 {
          let n = try inner.read(into: UnsafeMutableRawBufferPointer(start: input, count: inputCapacity))
          if n == 0 {
            finished = true
            break
          }
          stream.next_in = input
          stream.avail_in = UInt32(n)
        }
        inflateReset(&stream)
        continue
      }
      guard status == Z_OK || status == Z_BUF_ERROR else {
        let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
        throw CrispError.invalidArgument("\(name): corrupt gzip data: \(message)")
      }
    }
    return buffer.count - Int(stream.avail_out)
  }
}

/// zstd decompression through the system libzstd.
final class ZstdSource<Inner: ByteSource>: ByteSource {
  private var inner: Inner
  private let context: OpaquePointer
  private let input: UnsafeMutableRawPointer
  private let inputCapacity = 256 * 1024
  private var inBuffer = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
  private var finished = false
  private var frameComplete = true
  let name: String

  init(_ inner: Inner, name: String) throws(CrispError) {
    self.inner = inner
    self.name = name
    guard let context = ZSTD_createDStream() else { throw CrispError.internalError("\(name): zstd init failed") }
    self.context = context
    input = .allocate(byteCount: inputCapacity, alignment: 16)
    inBuffer.src = UnsafeRawPointer(input)
  }

  deinit {
    ZSTD_freeDStream(context)
    input.deallocate()
  }

  func read(into buffer: UnsafeMutableRawBufferPointer) throws(CrispError) -> Int {
    guard !finished, let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
    var output = ZSTD_outBuffer(dst: base, size: buffer.count, pos: 0)
    while output.pos < output.size {
      if inBuffer.pos == inBuffer.size {
        let n = try inner.read(into: UnsafeMutableRawBufferPointer(start: input, count: inputCapacity))
        if n == 0 {
          guard frameComplete else { throw CrispError.invalidArgument("\(name): zstd stream is truncated") }
          finished = true
          break
        }
        inBuffer.size = n
        inBuffer.pos = 0
      }
      let result = ZSTD_decompressStream(context, &output, &inBuffer)
      if ZSTD_isError(result) != 0 {
        throw CrispError.invalidArgument("\(name): corrupt zstd data: \(String(cString: ZSTD_getErrorName(result)))")
      }
      frameComplete = result == 0
    }
    return output.pos
  }
}

/// A type-erased source, so pipelines can be assembled at run time (compression known only from the
/// layer's media type).
struct AnySource: ByteSource {
  var base: any ByteSource

  mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(CrispError) -> Int {
    try base.read(into: buffer)
  }
}

/// The decompressing source for a layer blob.
func layerSource(fd: Int32, path: String, compression: LayerCompression, name: String) throws(CrispError) -> AnySource {
  let file = FileSource(fd: fd, path: path)
  switch compression {
  case .gzip: return AnySource(base: try GzipSource(file, name: name))
  case .zstd: return AnySource(base: try ZstdSource(file, name: name))
  case .none: return AnySource(base: file)
  }
}
