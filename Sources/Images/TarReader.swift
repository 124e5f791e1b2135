import CrispCore
import Glibc

/// One entry of a tar stream, with PAX and GNU extensions already folded in.
struct TarEntry {
  enum Kind: Equatable {
    case file, hardLink, symlink, characterDevice, blockDevice, directory, fifo
  }

  var path: String
  var kind: Kind
  var mode: UInt32
  var uid: UInt32
  var gid: UInt32
  var size: Int64
  var modificationTime: (seconds: Int64, nanoseconds: Int64)
  var linkTarget: String
  var deviceMajor: UInt32
  var deviceMinor: UInt32
  /// Extended attributes (`SCHILY.xattr.*` PAX records), e.g. `security.capability`.
  var xattrs: [(name: String, value: [UInt8])]
}

/// Streams tar entries (ustar, GNU long names, PAX) from a ``ByteSource``.
///
/// The caller reads each entry's content with ``readContent(into:)`` before asking for the next entry;
/// unread content is skipped. Sparse files and unknown entry types are refused by name, never guessed at.
struct TarReader<Source: ByteSource> {
  private(set) var source: Source
  private var buffer: UnsafeMutableRawBufferPointer
  private var start = 0
  private var end = 0
  private var remainingContent: Int64 = 0
  private var remainingPadding: Int64 = 0
  private var globalPAX: [String: [UInt8]] = [:]
  let name: String

  init(_ source: Source, name: String) {
    self.source = source
    self.name = name
    buffer = .allocate(byteCount: 1 << 20, alignment: 512)
  }

  /// Releases the read buffer; the reader must not be used afterwards.
  mutating func close() { buffer.deallocate() }

  /// Reads whatever follows the end-of-archive marker to the end of the stream (a layer's diff ID covers
  /// every byte, padding included).
  mutating func drainSource() throws(CrispError) {
    while try source.read(into: buffer) > 0 {}
  }

  /// Reads up to `count` bytes into the buffer window; returns how many are available (< count at EOF).
  private mutating func fill(_ count: Int) throws(CrispError) -> Int {
    if end - start >= count { return count }
    if start > 0 {
      let available = end - start
      if available > 0, let base = buffer.baseAddress {
        memmove(base, base + start, available)
      }
      start = 0
      end = available
    }
    while end - start < count && end < buffer.count {
      let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
      if n == 0 { break }
      end += n
    }
    return min(count, end - start)
  }

  private mutating func skip(_ count: Int64) throws(CrispError) {
    var left = count
    while left > 0 {
      let want = Int(min(left, Int64(buffer.count)))
      let have = try fill(want)
      guard have > 0 else { throw truncated() }
      start += have
      left -= Int64(have)
    }
  }

  private func truncated() -> CrispError {
    CrispError.invalidArgument("\(name): tar stream is truncated")
  }

  /// Reads the rest of the current entry's content into `out`, returning the bytes written (0 at its end).
  mutating func readContent(into out: UnsafeMutableRawBufferPointer) throws(CrispError) -> Int {
    guard remainingContent > 0, let outBase = out.baseAddress else { return 0 }
    if start == end {
      // Large reads go straight from the source when the window is empty.
      let want = Int(min(remainingContent, Int64(out.count)))
      let n = try source.read(into: UnsafeMutableRawBufferPointer(start: outBase, count: want))
      guard n > 0 else { throw truncated() }
      remainingContent -= Int64(n)
      return n
    }
    let n = min(end - start, Int(min(remainingContent, Int64(out.count))))
    out.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[start..<start + n]))
    start += n
    remainingContent -= Int64(n)
    return n
  }

  /// Reads a small entry's whole content (PAX headers, long names).
  private mutating func readAll(limit: Int64) throws(CrispError) -> [UInt8] {
    guard remainingContent <= limit else {
      throw CrispError.invalidArgument("\(name): an extended header of \(remainingContent) bytes is over the \(limit)-byte limit")
    }
    let count = Int(remainingContent)
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 1)
    defer { scratch.deallocate() }
    var offset = 0
    while offset < count {
      let n = try readContent(into: UnsafeMutableRawBufferPointer(rebasing: scratch[offset..<count]))
      guard n > 0 else { throw truncated() }
      offset += n
    }
    return Array(scratch[0..<count])
  }

  /// The next entry, or nil at the end of the archive.
  mutating func next() throws(CrispError) -> TarEntry? {
    try skip(remainingContent + remainingPadding)
    remainingContent = 0
    remainingPadding = 0
    var pax: [String: [UInt8]] = globalPAX
    var longName: String?
    var longLink: String?
    while true {
      let have = try fill(512)
      if have == 0 { return nil }
      guard have == 512, let base = buffer.baseAddress else { throw truncated() }
      let header = UnsafeRawBufferPointer(start: base + start, count: 512)
      start += 512
      if header.allSatisfy({ $0 == 0 }) {
        // End-of-archive marker (a second zero block may follow; nothing after it matters).
        return nil
      }
      try verifyChecksum(header)
      let type = header[156]
      let size = try number(header, 124, 12, field: "size")
      guard size >= 0 else { throw CrispError.invalidArgument("\(name): negative entry size") }
      remainingContent = size
      remainingPadding = (512 - size % 512) % 512
      switch type {
      case UInt8(ascii: "x"):
        for (key, value) in try parsePAX(readAll(limit: 1 << 20)) { pax[key] = value }
        try skip(remainingPadding)
        remainingPadding = 0
        continue
      case UInt8(ascii: "g"):
        for (key, value) in try parsePAX(readAll(limit: 1 << 20)) {
          globalPAX[key] = value
          pax[key] = value
        }
        try skip(remainingPadding)
        remainingPadding = 0
        continue
      case UInt8(ascii: "L"):
        longName = cString(try readAll(limit: 64 * 1024))
        try skip(remainingPadding)
        remainingPadding = 0
        continue
      case UInt8(ascii: "K"):
        longLink = cString(try readAll(limit: 64 * 1024))
        try skip(remainingPadding)
        remainingPadding = 0
        continue
      default:
        break
      }
      var entry = try entryFromHeader(header, type: type)
      if let longName { entry.path = longName }
      if let longLink { entry.linkTarget = longLink }
      try apply(pax, to: &entry)
      // Only regular files carry content; any bytes a non-file header declares are skipped, not applied.
      entry.size = entry.kind == .file ? remainingContent : 0
      return entry
    }
  }

  private func verifyChecksum(_ header: UnsafeRawBufferPointer) throws(CrispError) {
    var unsigned: Int64 = 0
    var signed: Int64 = 0
    for (index, byte) in header.enumerated() {
      let value = (148..<156).contains(index) ? UInt8(ascii: " ") : byte
      unsigned += Int64(value)
      signed += Int64(Int8(bitPattern: value))
    }
    let recorded = try number(header, 148, 8, field: "checksum")
    guard recorded == unsigned || recorded == signed else {
      throw CrispError.invalidArgument("\(name): corrupt tar header (checksum mismatch); the layer is damaged or not a tar stream")
    }
  }

  private func entryFromHeader(_ header: UnsafeRawBufferPointer, type: UInt8) throws(CrispError) -> TarEntry {
    var path = field(header, 0, 100)
    let magic = Array(header[257..<263])
    // ustar (POSIX) keeps a path prefix in 345..<500; GNU tar uses those bytes for other things.
    if magic == Array("ustar\0".utf8) {
      let prefix = field(header, 345, 155)
      if !prefix.isEmpty { path = prefix + "/" + path }
    }
    let kind: TarEntry.Kind
    switch type {
    case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): kind = .file
    case UInt8(ascii: "1"): kind = .hardLink
    case UInt8(ascii: "2"): kind = .symlink
    case UInt8(ascii: "3"): kind = .characterDevice
    case UInt8(ascii: "4"): kind = .blockDevice
    case UInt8(ascii: "5"): kind = .directory
    case UInt8(ascii: "6"): kind = .fifo
    case UInt8(ascii: "S"):
      throw CrispError.invalidArgument("\(name): entry \"\(path)\": sparse files are not supported")
    default:
      throw CrispError.invalidArgument("\(name): entry \"\(path)\": unknown tar entry type \"\(Character(Unicode.Scalar(type)))\"")
    }
    return TarEntry(
      path: path,
      kind: kind,
      mode: UInt32(truncatingIfNeeded: try number(header, 100, 8, field: "mode")),
      uid: UInt32(truncatingIfNeeded: try number(header, 108, 8, field: "uid")),
      gid: UInt32(truncatingIfNeeded: try number(header, 116, 8, field: "gid")),
      size: 0,
      modificationTime: (try number(header, 136, 12, field: "mtime"), 0),
      linkTarget: field(header, 157, 100),
      deviceMajor: UInt32(truncatingIfNeeded: try number(header, 329, 8, field: "devmajor")),
      deviceMinor: UInt32(truncatingIfNeeded: try number(header, 337, 8, field: "devminor")),
      xattrs: [])
  }

  private mutating func apply(_ pax: [String: [UInt8]], to entry: inout TarEntry) throws(CrispError) {
    for (key, value) in pax {
      let text = String(decoding: value, as: UTF8.self)
      switch key {
      case "path", "linkpath":
        // C calls would see such a name cut at the NUL, not what the checks saw.
        guard !value.contains(0) else { throw CrispError.invalidArgument("\(name): a PAX \(key) contains a NUL byte") }
        if key == "path" { entry.path = text } else { entry.linkTarget = text }
      case "size":
        guard let size = Int64(text), size >= 0 else { throw CrispError.invalidArgument("\(name): bad PAX size \"\(text)\"") }
        remainingContent = size
        remainingPadding = (512 - size % 512) % 512
      case "uid": if let v = UInt32(text) { entry.uid = v }
      case "gid": if let v = UInt32(text) { entry.gid = v }
      case "mtime":
        let parts = text.split(separator: ".", maxSplits: 1)
        if let seconds = parts.first.flatMap({ Int64($0) }) {
          var nanos: Int64 = 0
          if parts.count == 2 {
            let digits = String(parts[1].prefix(9))
            nanos = (Int64(digits) ?? 0) * Int64(pow10(9 - digits.count))
          }
          entry.modificationTime = (seconds, nanos)
        }
      default:
        if key.hasPrefix("SCHILY.xattr.") {
          entry.xattrs.append((String(key.dropFirst("SCHILY.xattr.".count)), value))
        } else if key.hasPrefix("GNU.sparse.") {
          throw CrispError.invalidArgument("\(name): entry \"\(entry.path)\": sparse files are not supported")
        }
      }
    }
  }

  private func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { value, _ in value * 10 } }

  /// PAX records: `"<length> <key>=<value>\n"`, values may be binary (xattrs).
  private func parsePAX(_ bytes: [UInt8]) throws(CrispError) -> [(String, [UInt8])] {
    var records: [(String, [UInt8])] = []
    var index = 0
    while index < bytes.count {
      guard let space = bytes[index...].firstIndex(of: UInt8(ascii: " ")),
        let length = Int(String(decoding: bytes[index..<space], as: UTF8.self)),
        length > 0, index + length <= bytes.count, bytes[index + length - 1] == UInt8(ascii: "\n"),
        let equals = bytes[(space + 1)..<(index + length)].firstIndex(of: UInt8(ascii: "="))
      else {
        throw CrispError.invalidArgument("\(name): malformed PAX extended header")
      }
      let key = String(decoding: bytes[(space + 1)..<equals], as: UTF8.self)
      records.append((key, Array(bytes[(equals + 1)..<(index + length - 1)])))
      index += length
    }
    return records
  }

  private func field(_ header: UnsafeRawBufferPointer, _ offset: Int, _ length: Int) -> String {
    let slice = header[offset..<offset + length]
    let end = slice.firstIndex(of: 0) ?? slice.endIndex
    return String(decoding: header[offset..<end], as: UTF8.self)
  }

  private func cString(_ bytes: [UInt8]) -> String {
    let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
    return String(decoding: bytes[..<end], as: UTF8.self)
  }

  /// Octal ASCII, or GNU base-256 when the first byte has its high bit set.
  private func number(_ header: UnsafeRawBufferPointer, _ offset: Int, _ length: Int, field: String) throws(CrispError) -> Int64 {
    let bytes = header[offset..<offset + length]
    guard let first = bytes.first else { return 0 }
    if first & 0x80 != 0 {
      var value: Int64 = Int64(first & 0x7f)
      for byte in bytes.dropFirst() {
        guard value < Int64.max >> 8 else { throw CrispError.invalidArgument("\(name): tar \(field) field overflows") }
        value = value << 8 | Int64(byte)
      }
      return value
    }
    var value: Int64 = 0
    var seenDigit = false
    for byte in bytes {
      if byte == 0 || (byte == UInt8(ascii: " ") && seenDigit) { break }
      if byte == UInt8(ascii: " ") { continue }
      guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "7") else {
        throw CrispError.invalidArgument("\(name): corrupt tar header (\(field) is not an octal number)")
      }
      guard value < Int64.max >> 3 else { throw CrispError.invalidArgument("\(name): tar \(field) field overflows") }
      value = value << 3 | Int64(byte - UInt8(ascii: "0"))
      seenDigit = true
    }
    return value
  }
}
