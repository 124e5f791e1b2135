import CShim

/// Small byte and text helpers: the shim works on `[UInt8]` and C strings, not Foundation.
enum Bytes {
  static func of(_ text: String) -> [UInt8] { Array(text.utf8) }

  static func decimal(_ value: Int) -> [UInt8] { Array(String(value).utf8) }

  /// Parses a non-negative decimal number.
  static func parseInt(_ bytes: ArraySlice<UInt8>) -> Int? {
    var negative = false
    var slice = bytes
    if slice.first == 45 {
      negative = true
      slice = slice.dropFirst()
    }
    guard !slice.isEmpty else { return nil }
    // Checked: a number past Int's range is no number (wrapping made "-9223372036854775808" Int.min,
    // whose negation traps).
    var value = 0
    for byte in slice {
      guard byte >= 48 && byte <= 57 else { return nil }
      let (times, overflow) = value.multipliedReportingOverflow(by: 10)
      let (sum, carry) = times.addingReportingOverflow(Int(byte - 48))
      guard !overflow, !carry else { return nil }
      value = sum
    }
    return negative ? -value : value
  }

  /// Writes everything (retrying on EINTR/short writes); false when the fd refuses.
  @discardableResult
  static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { raw -> Bool in
      guard let base = raw.baseAddress else { return true }
      var offset = 0
      while offset < raw.count {
        let n = write(fd, base + offset, raw.count - offset)
        if n < 0 {
          if shim_errno() == EINTR { continue }
          return false
        }
        offset += n
      }
      return true
    }
  }

  /// Calls `body` with a NUL-terminated copy of `text`.
  static func withCString<T>(_ text: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
    var copy = text
    copy.append(0)
    return copy.withUnsafeBufferPointer { buffer in
      // The buffer holds at least the NUL appended above, so it has a base address.
      // swift-format-ignore: NeverForceUnwrap
      buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { body($0) }
    }
  }

  /// Reads a whole small file (a pid file, a cgroup file); nil when it cannot be read.
  static func readFile(_ path: [UInt8], limit: Int = 64 * 1024) -> [UInt8]? {
    let fd = withCString(path) { shim_open($0, O_RDONLY | O_CLOEXEC, 0) }
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while result.count < limit {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n <= 0 { break }
      result.append(contentsOf: chunk[0..<n])
    }
    return result
  }

  /// Writes a file atomically: a temporary file in the same directory, fsync, rename.
  static func writeFileAtomically(_ path: [UInt8], _ content: [UInt8]) -> Bool {
    let temp = path + of(".tmp")
    let fd = withCString(temp) { shim_open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
    guard fd >= 0 else { return false }
    let written = writeAll(fd, content)
    fsync(fd)
    close(fd)
    guard written else { return false }
    return withCString(temp) { t in withCString(path) { p in rename(t, p) } } == 0
  }

  /// The value after `key` in a `key value` line file (cgroup memory.events, memory.oom_control).
  static func field(_ content: [UInt8], _ key: [UInt8]) -> Int? {
    var start = 0
    while start < content.count {
      var end = start
      while end < content.count && content[end] != 10 { end += 1 }
      let line = content[start..<end]
      if line.count > key.count + 1, line.starts(with: key), line[line.startIndex + key.count] == 32 {
        return parseInt(line[(line.startIndex + key.count + 1)...])
      }
      start = end + 1
    }
    return nil
  }
}

/// Writes a diagnostic to standard error (the shim's stderr is a file in the container's state dir).
func complain(_ message: String) {
  Bytes.writeAll(2, Bytes.of("crisp-shim: " + message + "\n"))
}
