import CrispCore

/// Writes tar streams (ustar headers, PAX records for long names) into memory or through a sink: the
/// built-in pause image's layer and image export archives.
struct TarWriter {
  private(set) var bytes: [UInt8] = []
  /// Called with each finished chunk when streaming; nil keeps everything in `bytes`.
  private let sink: ((borrowing [UInt8]) throws(CrispError) -> Void)?

  init() { sink = nil }

  init(sink: @escaping (borrowing [UInt8]) throws(CrispError) -> Void) { self.sink = sink }

  private mutating func emit(_ chunk: [UInt8]) throws(CrispError) {
    if let sink { try sink(chunk) } else { bytes.append(contentsOf: chunk) }
  }

  enum Kind { case file, directory, symlink }

  mutating func add(
    path: String, kind: Kind = .file, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0, mtime: Int64 = 0, linkTarget: String = "",
    content: [UInt8] = []
  ) throws(CrispError) {
    let size = kind == .file ? content.count : 0
    try writeHeader(path: path, kind: kind, mode: mode, uid: uid, gid: gid, mtime: mtime, linkTarget: linkTarget, size: Int64(size))
    if size > 0 {
      try emit(content)
      let padding = (512 - size % 512) % 512
      if padding > 0 { try emit([UInt8](repeating: 0, count: padding)) }
    }
  }

  /// Writes a header for a file whose content the caller then streams with ``writeContent(_:)`` and
  /// finishes with ``padContent(size:)``.
  mutating func writeHeader(
    path: String, kind: Kind, mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0, mtime: Int64 = 0, linkTarget: String = "", size: Int64
  ) throws(CrispError) {
    var name = path
    if kind == .directory && !name.hasSuffix("/") { name += "/" }
    var pax: [(String, String)] = []
    if name.utf8.count > 100 { pax.append(("path", name)) }
    if linkTarget.utf8.count > 100 { pax.append(("linkpath", linkTarget)) }
    if size > 0o77777777777 { pax.append(("size", String(size))) }
    if !pax.isEmpty {
      var records: [UInt8] = []
      for (key, value) in pax {
        let body = " \(key)=\(value)\n"
        // The length prefix counts itself.
        var length = body.utf8.count + 1
        while String(length).utf8.count + body.utf8.count != length { length += 1 }
        records += Array("\(length)\(body)".utf8)
      }
      try emit(
        header(
          name: "PaxHeaders/\(String(name.suffix(80)))", type: UInt8(ascii: "x"), mode: 0o644, uid: 0, gid: 0, mtime: mtime, linkTarget: "",
          size: Int64(records.count)))
      try emit(records)
      let padding = (512 - records.count % 512) % 512
      if padding > 0 { try emit([UInt8](repeating: 0, count: padding)) }
    }
    let type: UInt8
    switch kind {
    case .file: type = UInt8(ascii: "0")
    case .directory: type = UInt8(ascii: "5")
    case .symlink: type = UInt8(ascii: "2")
    }
    try emit(
      header(
        name: String(name.prefix(100)), type: type, mode: mode, uid: uid, gid: gid, mtime: mtime, linkTarget: String(linkTarget.prefix(100)),
        size: size > 0o77777777777 ? 0 : size))
  }

  mutating func writeContent(_ chunk: [UInt8]) throws(CrispError) { try emit(chunk) }

  mutating func padContent(size: Int64) throws(CrispError) {
    let padding = Int((512 - size % 512) % 512)
    if padding > 0 { try emit([UInt8](repeating: 0, count: padding)) }
  }

  /// The two zero blocks that end an archive.
  mutating func finish() throws(CrispError) {
    try emit([UInt8](repeating: 0, count: 1024))
  }

  private func header(name: String, type: UInt8, mode: UInt32, uid: UInt32, gid: UInt32, mtime: Int64, linkTarget: String, size: Int64) -> [UInt8] {
    var block = [UInt8](repeating: 0, count: 512)
    func put(_ text: String, _ offset: Int, _ length: Int) {
      for (index, byte) in text.utf8.prefix(length).enumerated() { block[offset + index] = byte }
    }
    func octal(_ value: Int64, _ offset: Int, _ length: Int) {
      let digits = String(value, radix: 8)
      put(String(repeating: "0", count: max(0, length - 1 - digits.count)) + digits, offset, length - 1)
    }
    put(name, 0, 100)
    octal(Int64(mode), 100, 8)
    octal(Int64(uid), 108, 8)
    octal(Int64(gid), 116, 8)
    octal(size, 124, 12)
    octal(mtime, 136, 12)
    put("        ", 148, 8)
    block[156] = type
    put(linkTarget, 157, 100)
    put("ustar\0", 257, 6)
    put("00", 263, 2)
    let checksum = block.reduce(0) { $0 + Int64($1) }
    let digits = String(checksum, radix: 8)
    put(String(repeating: "0", count: max(0, 6 - digits.count)) + digits, 148, 6)
    block[154] = 0
    block[155] = UInt8(ascii: " ")
    return block
  }
}
