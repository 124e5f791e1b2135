#if canImport(Glibc)
public import Glibc
#elseif canImport(Musl)
public import Musl
#endif

/// Writes files so that a reader (or a daemon restarting after `kill -9`) sees either the old content or the
/// new content, never a torn mix: the bytes go to a temporary file in the same directory, are fsync'ed, and
/// the file is renamed over the target; the directory is fsync'ed so the rename itself survives a crash.
///
/// Every file crisp writes goes through here.
public enum AtomicFile {
  /// Replaces `path` with `bytes`, creating it with `mode` if it does not exist.
  public static func write(_ bytes: some Collection<UInt8>, to path: String, mode: mode_t = 0o644) throws(SystemError) {
    let directory = FilePath.directory(of: path)
    let base = FilePath.lastComponent(of: path)
    var suffix = UInt64.random(in: 0..<UInt64.max)
    var fd: Int32 = -1
    var temp = ""
    for _ in 0..<8 {
      temp = "\(directory)/.\(base).tmp-\(String(suffix, radix: 36))"
      fd = retryingOnInterrupt { open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) }
      if fd >= 0 || errno != EEXIST { break }
      suffix &+= 1
    }
    guard fd >= 0 else { throw .last("open", temp) }
    var committed = false
    defer {
      if fd >= 0 { close(fd) }
      if !committed { unlink(temp) }
    }
    let written: Bool =
      bytes.withContiguousStorageIfAvailable { buffer in
        writeFully(fd, UnsafeRawBufferPointer(buffer))
      } ?? Array(bytes).withUnsafeBytes { writeFully(fd, $0) }
    guard written else { throw .last("write", temp) }
    // The umask may have narrowed the mode at open(2): set it exactly.
    guard fchmod(fd, mode) == 0 else { throw .last("fchmod", temp) }
    guard fsync(fd) == 0 else { throw .last("fsync", temp) }
    guard close(fd) == 0 else { fd = -1; throw .last("close", temp) }
    fd = -1
    guard rename(temp, path) == 0 else { throw .last("rename", "\(temp) -> \(path)") }
    committed = true
    syncDirectory(directory)
  }

  /// Replaces `path` with the UTF-8 bytes of `text`.
  public static func write(_ text: String, to path: String, mode: mode_t = 0o644) throws(SystemError) {
    try write(Array(text.utf8), to: path, mode: mode)
  }

  /// Makes a completed rename or unlink in `directory` durable.
  public static func syncDirectory(_ directory: String) {
    let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 {
      _ = fsync(dfd)
      close(dfd)
    }
  }
}
