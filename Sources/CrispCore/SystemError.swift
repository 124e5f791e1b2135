#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: which call, on what, and the errno it returned.
///
/// Kept separate from ``CrispError`` because callers often branch on the errno (EEXIST, ENOENT, EPERM)
/// before deciding what the failure means for the operator.
public struct SystemError: Error, Sendable, CustomStringConvertible, Equatable {
  public var call: String
  public var subject: String
  public var errno: Int32

  public init(_ call: String, _ subject: String = "", errno: Int32) {
    self.call = call
    self.subject = subject
    self.errno = errno
  }

  /// Captures the calling thread's current errno.
  public static func last(_ call: String, _ subject: String = "") -> SystemError {
    SystemError(call, subject, errno: currentErrno())
  }

  public var strerror: String { String(cString: Glibc.strerror(errno)) }

  public var description: String {
    subject.isEmpty ? "\(call): \(strerror)" : "\(call) \(subject): \(strerror)"
  }
}

@inline(__always)
func currentErrno() -> Int32 { Glibc.errno }

/// Retries a system call that failed with EINTR.
public func retryingOnInterrupt<T: BinaryInteger>(_ body: () -> T) -> T {
  while true {
    let result = body()
    if result == -1 && errno == EINTR { continue }
    return result
  }
}

/// Writes all of `buffer` to a blocking descriptor, retrying interrupted and partial writes; false once the
/// descriptor refuses (closed pipe, reset socket, full disk).
public func writeFully(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Bool {
  guard let base = buffer.baseAddress else { return true }
  var offset = 0
  while offset < buffer.count {
    let n = retryingOnInterrupt { write(fd, base + offset, buffer.count - offset) }
    if n <= 0 { return false }
    offset += n
  }
  return true
}

/// ``writeFully(_:_:)-(_,UnsafeRawBufferPointer)`` for a byte array.
public func writeFully(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
  bytes.withUnsafeBytes { writeFully(fd, $0) }
}
