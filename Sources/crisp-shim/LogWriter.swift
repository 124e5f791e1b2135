import CShim

/// Writes container output as CRI log records, `<RFC3339Nano> <stdout|stderr> <P|F> <content>\n`.
///
/// A complete line is one `F` record; a line longer than the maximum becomes `P` records of that size; a
/// final chunk without a newline is a `P` record. When the file cannot be written (disk full, file gone),
/// output is still consumed and dropped, so the container never blocks on a full pipe.
final class LogWriter {
  private let path: [UInt8]
  private let maxLine: Int
  private var fd: Int32 = -1
  private var pending: [[UInt8]] = [[], []]
  private static let streams: [[UInt8]] = [Bytes.of("stdout"), Bytes.of("stderr")]

  init(path: [UInt8], maxLine: Int) {
    self.path = path
    self.maxLine = max(maxLine, 1)
    reopen()
  }

  /// Opens (or re-opens, after kubelet rotated the file away) the log file. Returns false on failure.
  @discardableResult
  func reopen() -> Bool {
    guard !path.isEmpty else { return true }
    if fd >= 0 { close(fd) }
    fd = Bytes.withCString(path) { shim_open($0, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640) }
    if fd < 0 { complain("cannot open the log file: errno \(shim_errno())") }
    return fd >= 0
  }

  /// Adds output read from `stream` (0 stdout, 1 stderr).
  func append(_ stream: Int, _ data: ArraySlice<UInt8>) {
    var buffer = pending[stream]
    buffer.append(contentsOf: data)
    var start = 0
    while true {
      var newline = -1
      var index = start
      let limit = min(buffer.count, start + maxLine)
      while index < limit {
        if buffer[index] == 10 {
          newline = index
          break
        }
        index += 1
      }
      if newline >= 0 {
        record(stream, partial: false, buffer[start..<newline])
        start = newline + 1
      } else if buffer.count - start >= maxLine {
        record(stream, partial: true, buffer[start..<(start + maxLine)])
        start += maxLine
      } else {
        break
      }
    }
    pending[stream] = start == 0 ? buffer : Array(buffer[start...])
  }

  /// Writes out what is left without a newline, as partial records.
  func flush() {
    for stream in 0..<2 where !pending[stream].isEmpty {
      record(stream, partial: true, pending[stream][...])
      pending[stream] = []
    }
  }

  private func record(_ stream: Int, partial: Bool, _ content: ArraySlice<UInt8>) {
    guard fd >= 0 else { return }
    var stamp = [CChar](repeating: 0, count: 48)
    let length = shim_timestamp(&stamp, Int32(stamp.count), nil)
    var line: [UInt8] = []
    line.reserveCapacity(Int(length) + content.count + 12)
    for index in 0..<Int(length) { line.append(UInt8(bitPattern: stamp[index])) }
    line.append(32)
    line.append(contentsOf: Self.streams[stream])
    line.append(32)
    line.append(partial ? 80 : 70)
    line.append(32)
    line.append(contentsOf: content)
    line.append(10)
    // A failed write (ENOSPC, EIO) drops this record; the next one tries again.
    Bytes.writeAll(fd, line)
  }
}
