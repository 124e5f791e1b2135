import CZlib

/// One SPDY/3.1 frame, decoded. kubelet's clients (client-go's remotecommand and port-forward, crictl) speak
/// SPDY/3.1 over the upgraded HTTP connection; only the frames they use are modelled, anything else is a
/// protocol error.
public enum SPDYFrame: Equatable, Sendable {
  case synStream(streamID: UInt32, associatedTo: UInt32, priority: UInt8, flags: UInt8, headers: SPDYHeaders)
  case synReply(streamID: UInt32, flags: UInt8, headers: SPDYHeaders)
  case rstStream(streamID: UInt32, status: UInt32)
  case settings(flags: UInt8, entries: [SPDYSetting])
  case ping(id: UInt32)
  case goAway(lastGoodStreamID: UInt32, status: UInt32)
  case headers(streamID: UInt32, flags: UInt8, headers: SPDYHeaders)
  case windowUpdate(streamID: UInt32, delta: UInt32)
  case data(streamID: UInt32, flags: UInt8, payload: [UInt8])

  public static let flagFin: UInt8 = 0x01
  public static let flagUnidirectional: UInt8 = 0x02

  public enum ControlType: UInt16, Sendable {
    case synStream = 1, synReply = 2, rstStream = 3, settings = 4, ping = 6, goAway = 7, headers = 8, windowUpdate = 9
  }

  /// RST_STREAM status codes (SPDY/3 section 2.6.3).
  public enum ResetStatus: UInt32, Sendable {
    case protocolError = 1, invalidStream, refusedStream, unsupportedVersion, cancel, internalError, flowControlError
  }
}

public struct SPDYSetting: Equatable, Sendable {
  public var flags: UInt8
  public var id: UInt32
  public var value: UInt32

  public init(flags: UInt8, id: UInt32, value: UInt32) {
    self.flags = flags
    self.id = id
    self.value = value
  }

  public static let initialWindowSize: UInt32 = 7
}

/// A header block: names are lowercase, and a name may carry several values (NUL-separated on the wire).
public struct SPDYHeaders: Equatable, Sendable {
  public var pairs: [(name: String, value: String)] = []

  public init(_ pairs: [(String, String)] = []) { self.pairs = pairs.map { (name: $0.0, value: $0.1) } }

  public subscript(name: String) -> String? { pairs.first { $0.name == name }?.value }

  public static func == (a: SPDYHeaders, b: SPDYHeaders) -> Bool {
    a.pairs.count == b.pairs.count && zip(a.pairs, b.pairs).allSatisfy { $0.name == $1.name && $0.value == $1.value }
  }
}

public enum SPDYError: Error, Equatable, CustomStringConvertible {
  case unsupportedVersion(UInt16)
  case unknownFrameType(UInt16)
  case malformed(String)
  case compression(String)

  public var description: String {
    switch self {
    case .unsupportedVersion(let v): "SPDY version \(v) is not 3"
    case .unknownFrameType(let t): "unknown SPDY control frame type \(t)"
    case .malformed(let what): "malformed SPDY frame: \(what)"
    case .compression(let what): "SPDY header compression: \(what)"
    }
  }
}

/// Reads and writes SPDY/3 frames on one connection. Header blocks share one zlib stream per direction for
/// the whole connection (primed with ``SPDYDictionary``), so a framer belongs to exactly one connection.
public final class SPDYFramer {
  private var inflater = z_stream()
  private var deflater = z_stream()
  private var inflaterReady = false
  private var deflaterReady = false

  public init() throws(SPDYError) {
    guard deflateInit_(&deflater, Z_DEFAULT_COMPRESSION, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
      throw .compression("deflateInit failed")
    }
    deflaterReady = true
    let dictionaryStatus = SPDYDictionary.bytes.withUnsafeBufferPointer { deflateSetDictionary(&deflater, $0.baseAddress, uInt($0.count)) }
    guard dictionaryStatus == Z_OK else { throw .compression("deflateSetDictionary failed") }
    guard inflateInit_(&inflater, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
      throw .compression("inflateInit failed")
    }
    inflaterReady = true
  }

  deinit {
    if deflaterReady { deflateEnd(&deflater) }
    if inflaterReady { inflateEnd(&inflater) }
  }

  // MARK: Decoding

  /// The stream of a data frame whose header has arrived at `start`, before its body: the connection refuses
  /// data for streams that were never opened without waiting for up to 16 MiB of garbage.
  public static func pendingDataStream(_ buffer: [UInt8], _ start: Int) -> UInt32? {
    guard buffer.count - start >= 8, buffer[start] & 0x80 == 0 else { return nil }
    return u32(buffer, start) & 0x7fff_ffff
  }

  /// Takes one whole frame off the front of `buffer`, or returns nil when more bytes are needed.
  public func decode(_ buffer: inout [UInt8], consumedFrom start: inout Int) throws(SPDYError) -> SPDYFrame? {
    let available = buffer.count - start
    guard available >= 8 else { return nil }
    let b = start
    let length = Int(buffer[b + 5]) << 16 | Int(buffer[b + 6]) << 8 | Int(buffer[b + 7])
    if buffer[b] & 0x80 != 0 {
      // A control frame's header is checked before its body arrives, so garbage fails at once.
      let version = UInt16(buffer[b] & 0x7f) << 8 | UInt16(buffer[b + 1])
      guard version == 3 else { throw .unsupportedVersion(version) }
      let rawType = UInt16(buffer[b + 2]) << 8 | UInt16(buffer[b + 3])
      guard SPDYFrame.ControlType(rawValue: rawType) != nil else { throw .unknownFrameType(rawType) }
    }
    guard available >= 8 + length else { return nil }
    let payload = Array(buffer[(b + 8)..<(b + 8 + length)])
    start += 8 + length
    let flags = buffer[b + 4]
    if buffer[b] & 0x80 == 0 {
      let streamID = Self.u32(buffer, b) & 0x7fff_ffff
      return .data(streamID: streamID, flags: flags, payload: payload)
    }
    let version = UInt16(buffer[b] & 0x7f) << 8 | UInt16(buffer[b + 1])
    guard version == 3 else { throw .unsupportedVersion(version) }
    let rawType = UInt16(buffer[b + 2]) << 8 | UInt16(buffer[b + 3])
    guard let type = SPDYFrame.ControlType(rawValue: rawType) else { throw .unknownFrameType(rawType) }
    func need(_ count: Int) throws(SPDYError) {
      if payload.count < count { throw .malformed("\(type) frame of \(payload.count) bytes, needs \(count)") }
    }
    switch type {
    case .synStream:
      try need(10)
      let headers = try decodeHeaders(Array(payload[10...]))
      return .synStream(
        streamID: Self.u32(payload, 0) & 0x7fff_ffff, associatedTo: Self.u32(payload, 4) & 0x7fff_ffff, priority: payload[8] >> 5,
        flags: flags, headers: headers)
    case .synReply:
      try need(4)
      return .synReply(streamID: Self.u32(payload, 0) & 0x7fff_ffff, flags: flags, headers: try decodeHeaders(Array(payload[4...])))
    case .headers:
      try need(4)
      return .headers(streamID: Self.u32(payload, 0) & 0x7fff_ffff, flags: flags, headers: try decodeHeaders(Array(payload[4...])))
    case .rstStream:
      try need(8)
      return .rstStream(streamID: Self.u32(payload, 0) & 0x7fff_ffff, status: Self.u32(payload, 4))
    case .settings:
      try need(4)
      let count = Int(Self.u32(payload, 0))
      guard count <= (payload.count - 4) / 8 else { throw .malformed("SETTINGS claims \(count) entries") }
      var entries: [SPDYSetting] = []
      for index in 0..<count {
        let at = 4 + index * 8
        entries.append(SPDYSetting(flags: payload[at], id: Self.u32(payload, at) & 0x00ff_ffff, value: Self.u32(payload, at + 4)))
      }
      return .settings(flags: flags, entries: entries)
    case .ping:
      try need(4)
      return .ping(id: Self.u32(payload, 0))
    case .goAway:
      try need(8)
      return .goAway(lastGoodStreamID: Self.u32(payload, 0) & 0x7fff_ffff, status: Self.u32(payload, 4))
    case .windowUpdate:
      try need(8)
      return .windowUpdate(streamID: Self.u32(payload, 0) & 0x7fff_ffff, delta: Self.u32(payload, 4) & 0x7fff_ffff)
    }
  }

  /// Inflates a header block (continuing the connection's zlib stream) and parses its pairs.
  private func decodeHeaders(_ compressed: [UInt8]) throws(SPDYError) -> SPDYHeaders {
    guard !compressed.isEmpty else { return SPDYHeaders() }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    var input = compressed
    var status: Int32 = Z_OK
    try input.withUnsafeMutableBufferPointer { (inputBuffer) throws(SPDYError) in
      inflater.next_in = inputBuffer.baseAddress
      inflater.avail_in = uInt(inputBuffer.count)
      repeat {
        status = chunk.withUnsafeMutableBufferPointer { out in
          inflater.next_out = out.baseAddress
          inflater.avail_out = uInt(out.count)
          var result = inflate(&inflater, Z_SYNC_FLUSH)
          if result == Z_NEED_DICT {
            result = SPDYDictionary.bytes.withUnsafeBufferPointer { inflateSetDictionary(&inflater, $0.baseAddress, uInt($0.count)) }
            if result == Z_OK { result = inflate(&inflater, Z_SYNC_FLUSH) }
          }
          return result
        }
        let produced = chunk.count - Int(inflater.avail_out)
        output.append(contentsOf: chunk[0..<produced])
        if output.count > 1 << 20 { throw .compression("header block larger than 1 MiB") }
        // The header stream lasts as long as the connection: a peer ending it (Z_STREAM_END) is broken, and
        // a pass that neither consumed nor produced anything would loop forever.
        guard status == Z_OK || status == Z_BUF_ERROR else { throw .compression("inflate status \(status)") }
        if status == Z_BUF_ERROR && produced == 0 && inflater.avail_in > 0 { throw .compression("inflate made no progress") }
      } while inflater.avail_in > 0 || inflater.avail_out == 0 && status == Z_OK
      inflater.next_in = nil
    }
    return try Self.parseHeaderBlock(output)
  }

  static func parseHeaderBlock(_ block: [UInt8]) throws(SPDYError) -> SPDYHeaders {
    guard block.count >= 4 else { throw .malformed("header block of \(block.count) bytes") }
    let count = Int(u32(block, 0))
    var at = 4
    var headers = SPDYHeaders()
    func string() throws(SPDYError) -> String {
      guard at + 4 <= block.count else { throw .malformed("header block truncated") }
      let length = Int(u32(block, at))
      at += 4
      guard length <= block.count - at else { throw .malformed("header length \(length) past the block") }
      defer { at += length }
      return String(decoding: block[at..<(at + length)], as: UTF8.self)
    }
    guard count <= block.count / 8 else { throw .malformed("header block claims \(count) pairs") }
    for _ in 0..<count {
      let name = try string()
      let value = try string()
      headers.pairs.append((name: name.lowercased(), value: value))
    }
    return headers
  }

  // MARK: Encoding

  public func encode(_ frame: SPDYFrame) -> [UInt8] {
    switch frame {
    case .data(let streamID, let flags, let payload):
      return Self.dataFrame(streamID: streamID, flags: flags, payload: payload)
    case .synStream(let streamID, let associatedTo, let priority, let flags, let headers):
      return control(.synStream, flags, Self.be32(streamID) + Self.be32(associatedTo) + [priority << 5, 0] + compress(headers))
    case .synReply(let streamID, let flags, let headers):
      return control(.synReply, flags, Self.be32(streamID) + compress(headers))
    case .headers(let streamID, let flags, let headers):
      return control(.headers, flags, Self.be32(streamID) + compress(headers))
    case .rstStream(let streamID, let status):
      return control(.rstStream, 0, Self.be32(streamID) + Self.be32(status))
    case .settings(let flags, let entries):
      var body = Self.be32(UInt32(entries.count))
      for entry in entries { body += [entry.flags] + Self.be24(Int(entry.id)) + Self.be32(entry.value) }
      return control(.settings, flags, body)
    case .ping(let id):
      return control(.ping, 0, Self.be32(id))
    case .goAway(let last, let status):
      return control(.goAway, 0, Self.be32(last) + Self.be32(status))
    case .windowUpdate(let streamID, let delta):
      return control(.windowUpdate, 0, Self.be32(streamID) + Self.be32(delta))
    }
  }

  /// A DATA frame's bytes. Needs no framer state (only header blocks are compressed), so any thread may
  /// build one.
  public static func dataFrame(streamID: UInt32, flags: UInt8, payload: [UInt8]) -> [UInt8] {
    be32(streamID & 0x7fff_ffff) + [flags] + be24(payload.count) + payload
  }

  private func control(_ type: SPDYFrame.ControlType, _ flags: UInt8, _ body: [UInt8]) -> [UInt8] {
    [0x80, 0x03] + [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xff), flags] + Self.be24(body.count) + body
  }

  static func headerBlock(_ headers: SPDYHeaders) -> [UInt8] {
    var block = be32(UInt32(headers.pairs.count))
    for (name, value) in headers.pairs {
      block += be32(UInt32(name.utf8.count)) + Array(name.lowercased().utf8)
      block += be32(UInt32(value.utf8.count)) + Array(value.utf8)
    }
    return block
  }

  /// Deflates a header block with a sync flush, so the peer can inflate it on its own.
  private func compress(_ headers: SPDYHeaders) -> [UInt8] {
    var input = Self.headerBlock(headers)
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    input.withUnsafeMutableBufferPointer { inputBuffer in
      deflater.next_in = inputBuffer.baseAddress
      deflater.avail_in = uInt(inputBuffer.count)
      repeat {
        chunk.withUnsafeMutableBufferPointer { out in
          deflater.next_out = out.baseAddress
          deflater.avail_out = uInt(out.count)
          _ = deflate(&deflater, Z_SYNC_FLUSH)
        }
        output.append(contentsOf: chunk[0..<(chunk.count - Int(deflater.avail_out))])
      } while deflater.avail_out == 0
      deflater.next_in = nil
    }
    return output
  }

  // MARK: Byte helpers

  static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
  }

  static func be32(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
  }

  static func be24(_ value: Int) -> [UInt8] {
    [UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
  }
}
