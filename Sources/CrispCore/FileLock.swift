#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An exclusive `flock(2)` on a file, held for the lifetime of the process (or until released).
///
/// The kernel drops the lock when its holder dies, even by `kill -9`, so a lock that cannot be taken means a
/// live process holds it: exactly the "is another daemon running on these paths?" question.
public final class FileLock: Sendable {
  public let path: String
  private let fd: Int32

  /// Takes the lock without waiting. Returns `nil` when another process holds it.
  public static func tryAcquire(_ path: String) throws(SystemError) -> FileLock? {
    let fd = retryingOnInterrupt { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
    guard fd >= 0 else { throw .last("open", path) }
    if flock(fd, LOCK_EX | LOCK_NB) != 0 {
      let err = errno
      close(fd)
      if err == EWOULDBLOCK { return nil }
      throw SystemError("flock", path, errno: err)
    }
    // Record the holder for the operator's benefit; the lock itself is what counts.
    _ = ftruncate(fd, 0)
    let pid = Array("\(getpid())\n".utf8)
    _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    return FileLock(path: path, fd: fd)
  }

  /// The pid written by the current holder, if readable.
  public static func holder(of path: String) -> Int32? {
    guard let text = try? FilePath.readText(path) else { return nil }
    return Int32(text.trimmingSpaces)
  }

  private init(path: String, fd: Int32) {
    self.path = path
    self.fd = fd
  }

  deinit { close(fd) }
}
