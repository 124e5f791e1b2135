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

/// Limits and field parsers of the tar format, shared by every ``TarReader``.
enum TarFormat {
  /// The largest entry size accepted: content plus its padding to a whole 512-byte block must still be a
  /// representable stream offset. Sizes come from the header's octal or base-256 field or from a PAX
  /// `size` record, both unbounded as written.
  static let maximumEntrySize: Int64 = Int64.max - 511
  /// Extended headers (PAX records, GNU long names) that precede one entry may hold at most this many bytes
  /// together; a global PAX header at most this many on its own.
  static let maximumMetadataSize: Int64 = 1 << 20
  /// A GNU long name or long link target may be at most this long.
  static let maximumLongNameSize: Int64 = 64 * 1024

  /// A non-negative decimal number of ASCII digits only (no sign, no spaces), or nil, also on overflow.
  static func decimal<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Int64? {
    guard !bytes.isEmpty, bytes.count <= 19 else { return nil }
    var value: Int64 = 0
    for byte in bytes {
      guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
      let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
      let (sum, o2) = shifted.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
      guard !o1, !o2 else { return nil }
      value = sum
    }
    return value
  }

  /// A PAX time, `[-]seconds[.fraction]`, as seconds and nanoseconds in 0..<1e9 (digits past the ninth
  /// are dropped, as Go's archive/tar does); nil when malformed.
  static func paxTime(_ bytes: [UInt8]) -> (seconds: Int64, nanoseconds: Int64)? {
    var text = bytes[...]
    let negative = text.first == UInt8(ascii: "-")
    if negative { text = text.dropFirst() }
    let dot = text.firstIndex(of: UInt8(ascii: "."))
    guard let whole = decimal(text[..<(dot ?? text.endIndex)]) else { return nil }
    var nanoseconds: Int64 = 0
    if let dot {
      let fraction = text[text.index(after: dot)...]
      guard fraction.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
      var digits = 0
      for byte in fraction.prefix(9) {
        nanoseconds = nanoseconds * 10 + Int64(byte - UInt8(ascii: "0"))
        digits += 1
      }
      while digits < 9 {
        nanoseconds *= 10
        digits += 1
      }
    }
    guard negative else { return (whole, nanoseconds) }
    // -1.25 is 1.25 s before the epoch: seconds -2, nanoseconds 750 000 000.
    if nanoseconds == 0 { return (-whole, 0) }
    return (-whole - 1, 1_000_000_000 - nanoseconds)
  }

  static func parsePAXRecords(_ bytes: [UInt8]) throws(CrispError) -> [(String, [UInt8])] {
    var records: [(String, [UInt8])] = []
    var index = 0
    while index < bytes.count {
      guard let space = bytes[index...].firstIndex(of: UInt8(ascii: " ")) else {
        throw CrispError.invalidArgument("record at offset \(index) has no length")
      }
      // Bounded by what is left, so `index + length` below cannot overflow.
      guard let declared = decimal(bytes[index..<space]), declared > 0, declared <= Int64(bytes.count - index),
        let length = Int(exactly: declared)
      else {
        throw CrispError.invalidArgument("record at offset \(index) has a bad length")
      }
      let end = index + length
      guard space + 1 < end, bytes[end - 1] == UInt8(ascii: "\n"),
        let equals = bytes[(space + 1)..<(end - 1)].firstIndex(of: UInt8(ascii: "="))
      else {
        throw CrispError.invalidArgument("record at offset \(index) is not \"<length> <key>=<value>\\n\"")
      }
      let key = String(decoding: bytes[(space + 1)..<equals], as: UTF8.self)
      guard !key.isEmpty else { throw CrispError.invalidArgument("record at offset \(index) has an empty key") }
      records.append((key, Array(bytes[(equals + 1)..<(end - 1)])))
      index = end
    }
    return records
  }
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
  let name: String
  private typealias Limits = TarFormat

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
    guard count >= 0 else { throw truncated() }
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

  /// Sets the size of the entry whose header was just read, refusing one no tar stream can carry.
  private mutating func setContentSize(_ size: Int64, entry: String) throws(CrispError) {
    guard size >= 0, size <= Limits.maximumEntrySize else {
      throw CrispError.invalidArgument("\(name): entry \"\(entry)\": size \(size) is out of range (0...\(Limits.maximumEntrySize))")
    }
    remainingContent = size
    remainingPadding = (512 - size % 512) % 512
  }

  /// Skips what is left of the current entry: its unread content and its padding.
  private mutating func skipRest() throws(CrispError) {
    let (total, overflow) = remainingContent.addingReportingOverflow(remainingPadding)
    guard !overflow else { throw CrispError.invalidArgument("\(name): entry size overflows") }
    try skip(total)
    remainingContent = 0
    remainingPadding = 0
  }

  /// Reads an extended header's content, charging it to the metadata budget of the entry it precedes.
  private mutating func readMetadata(limit: Int64, budget: inout Int64, what: String) throws(CrispError) -> [UInt8] {
    guard remainingContent <= budget else {
      throw CrispError.invalidArgument("\(name): \(what) over the \(Limits.maximumMetadataSize)-byte limit")
    }
    let bytes = try readAll(limit: limit)
    budget -= Int64(bytes.count)
    try skip(remainingPadding)
    remainingPadding = 0
    return bytes
  }

  /// The next entry, or nil at the end of the archive.
  ///
  /// Global PAX headers (type `g`) are checked for well-formedness and then ignored: their records do not
  /// apply to later entries. That is what Go's archive/tar (it hands a global header back as an entry of
  /// its own) and containerd's unpacker (it skips such entries) do, so an image unpacks here as it does
  /// there, and a global `SCHILY.xattr.*` or `path` record cannot reach every later file.
  mutating func next() throws(CrispError) -> TarEntry? {
    try skipRest()
    var pax: [String: [UInt8]] = [:]
    var longName: String?
    var longLink: String?
    var budget = Limits.maximumMetadataSize
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
      try setContentSize(try number(header, 124, 12, field: "size"), entry: field(header, 0, 100))
      switch type {
      case UInt8(ascii: "x"):
        let bytes = try readMetadata(limit: Limits.maximumMetadataSize, budget: &budget, what: "the extended headers before one entry are")
        for (key, value) in try parsePAX(bytes) { pax[key] = value }
        continue
      case UInt8(ascii: "g"):
        // Parsed so a malformed one is refused like any other header, then dropped (see above).
        var globalBudget = Limits.maximumMetadataSize
        _ = try parsePAX(readMetadata(limit: Limits.maximumMetadataSize, budget: &globalBudget, what: "a global PAX header is"))
        continue
      case UInt8(ascii: "L"):
        longName = cString(try readMetadata(limit: Limits.maximumLongNameSize, budget: &budget, what: "the extended headers before one entry are"))
        continue
      case UInt8(ascii: "K"):
        longLink = cString(try readMetadata(limit: Limits.maximumLongNameSize, budget: &budget, what: "the extended headers before one entry are"))
        continue
      default:
        break
      }
      var entry = try entryFromHeader(header, type: type)
      if let longName { entry.path = longName }
      if let longLink { entry.linkTarget = longLink }
      try apply(pax, to: &entry)
      // Only regular files carry content. Links, devices, fifos and directories are header-only, whatever
      // size they declare (within range), as Go's archive/tar reads them: the next header follows directly.
      if entry.kind != .file {
        remainingContent = 0
        remainingPadding = 0
      }
      entry.size = remainingContent
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
    // Names first, so errors about the other records name the entry as it will be written.
    for key in ["path", "linkpath"] {
      guard let value = pax[key] else { continue }
      // C calls would see such a name cut at the NUL, not what the checks saw.
      guard !value.contains(0) else { throw CrispError.invalidArgument("\(name): a PAX \(key) contains a NUL byte") }
      let text = String(decoding: value, as: UTF8.self)
      if key == "path" { entry.path = text } else { entry.linkTarget = text }
    }
    for (key, value) in pax {
      let text = String(decoding: value, as: UTF8.self)
      switch key {
      case "path", "linkpath":
        continue
      case "size":
        guard let size = TarFormat.decimal(value) else {
          throw CrispError.invalidArgument("\(name): entry \"\(entry.path)\": bad PAX size \"\(text)\"")
        }
        try setContentSize(size, entry: entry.path)
      case "uid": if let v = UInt32(text) { entry.uid = v }
      case "gid": if let v = UInt32(text) { entry.gid = v }
      case "mtime":
        guard let time = TarFormat.paxTime(value) else {
          throw CrispError.invalidArgument("\(name): entry \"\(entry.path)\": bad PAX mtime \"\(text)\"")
        }
        entry.modificationTime = time
      default:
        if key.hasPrefix("SCHILY.xattr.") {
          entry.xattrs.append((String(key.dropFirst("SCHILY.xattr.".count)), value))
        } else if key.hasPrefix("GNU.sparse.") {
          throw CrispError.invalidArgument("\(name): entry \"\(entry.path)\": sparse files are not supported")
        }
      }
    }
  }

  /// PAX records: `"<length> <key>=<value>\n"`, values may be binary (xattrs). The length counts the whole
  /// record, its own digits included.
  private func parsePAX(_ bytes: [UInt8]) throws(CrispError) -> [(String, [UInt8])] {
    do throws(CrispError) {
      return try TarFormat.parsePAXRecords(bytes)
    } catch {
      throw CrispError.invalidArgument("\(name): malformed PAX extended header (\(error.message))")
    }
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
