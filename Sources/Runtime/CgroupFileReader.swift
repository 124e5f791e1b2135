import Glibc

/// Reads a cgroup's counter files for one sample into a single buffer, reused for every file: one open and
/// read per file, numbers parsed from the bytes, and only the wanted keys of a `key value` file taken
/// (v1 memory.stat has some forty lines, of which stats need four). Per-call stats read these files for
/// every container, so no intermediate strings or dictionaries are built. What a file holds is bounded by
/// the buffer: a longer file is read up to it.
final class CgroupFileReader {
  static let capacity = 16 * 1024
  private let buffer: UnsafeMutableRawBufferPointer
  /// Reads that failed on an open file since this reader was made: for a cgroup file, its cgroup is gone.
  private(set) var readFailures = 0

  init() {
    buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.capacity, alignment: 8)
  }

  deinit {
    buffer.deallocate()
  }

  /// Opens a cgroup directory for the relative reads below: the kernel walks its path once per sample
  /// instead of once per file (the walk was a quarter of a stats pass). nil when it does not exist; the
  /// caller closes it.
  static func openDirectory(_ path: String) -> Int32? {
    let fd = open(path, 0o10000000 | O_DIRECTORY | O_CLOEXEC)  // O_PATH, which Glibc does not export
    return fd >= 0 ? fd : nil
  }

  /// An open file holding one number, surrounding whitespace allowed; nil for anything else ("max", no
  /// file, an unreadable one, a value past UInt64). The file is read from its start whatever was read
  /// before.
  func number(_ fd: Int32?) -> UInt64? {
    guard let fd, let bytes = load(fd) else { return nil }
    return Self.number(bytes)
  }

  /// The values of `keys` in an open file of `key value` lines (memory.stat, cpu.stat), in the order
  /// asked; nil for a key that is missing or whose value is not a number.
  func values(_ fd: Int32?, keys: [String]) -> [UInt64?] {
    var result = [UInt64?](repeating: nil, count: keys.count)
    guard let fd, let bytes = load(fd) else { return result }
    Self.values(bytes, keys: keys.map { Array($0.utf8) }, into: &result)
    return result
  }

  static func number(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
    var start = 0
    var end = bytes.count
    while start < end, isSpace(bytes[start]) { start += 1 }
    while end > start, isSpace(bytes[end - 1]) { end -= 1 }
    guard start < end else { return nil }
    var value: UInt64 = 0
    for index in start..<end {
      let byte = bytes[index]
      guard byte >= 0x30, byte <= 0x39 else { return nil }
      let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
      let (sum, overflowB) = shifted.addingReportingOverflow(UInt64(byte &- 0x30))
      if overflowA || overflowB { return nil }
      value = sum
    }
    return value
  }

  /// Each line is `key value` with one space; other lines are skipped, as are repeated keys after the
  /// first. Keys are compared with memcmp, only against wanted keys of the line key's length.
  static func values(_ bytes: UnsafeRawBufferPointer, keys: [[UInt8]], into result: inout [UInt64?]) {
    guard let base = bytes.baseAddress, result.count == keys.count else { return }
    var lineStart = 0
    while lineStart < bytes.count {
      var lineEnd = bytes.count
      if let newline = memchr(base + lineStart, 0x0A, bytes.count - lineStart) { lineEnd = base.distance(to: UnsafeRawPointer(newline)) }
      defer { lineStart = lineEnd + 1 }
      guard let found = memchr(base + lineStart, 0x20, lineEnd - lineStart) else { continue }
      let space = base.distance(to: UnsafeRawPointer(found))
      let length = space - lineStart
      var position: Int?
      for index in keys.indices where keys[index].count == length && result[index] == nil {
        let same = keys[index].withUnsafeBytes { key -> Bool in
          guard let keyBase = key.baseAddress else { return length == 0 }
          return memcmp(base + lineStart, keyBase, length) == 0
        }
        if same {
          position = index
          break
        }
      }
      guard let position else { continue }
      guard memchr(base + space + 1, 0x20, lineEnd - space - 1) == nil else { continue }
      result[position] = number(UnsafeRawBufferPointer(rebasing: bytes[(space + 1)..<lineEnd]))
    }
  }

  private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D }

  /// The file's bytes from its start, up to the buffer's size; nil when it cannot be read.
  private func load(_ fd: Int32) -> UnsafeRawBufferPointer? {
    guard let base = buffer.baseAddress else { return nil }
    var used = 0
    while used < buffer.count {
      let wanted = buffer.count - used
      let count = pread(fd, base + used, wanted, off_t(used))
      if count < 0 {
        if errno == EINTR { continue }
        readFailures += 1
        return nil
      }
      if count == 0 { break }
      used += count
      // A counter file is one record that the kernel renders whole for each read from its start: a read
      // shorter than asked is its end. Asking again only to be told so doubled a stats pass's system calls.
      if count < wanted { break }
    }
    return UnsafeRawBufferPointer(rebasing: buffer[0..<used])
  }
}
