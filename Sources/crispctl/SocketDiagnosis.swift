import Foundation
import Glibc

/// Why crispctl cannot reach crisp's socket, in an operator's words ("no such file (is crisp running?)"),
/// found by looking at the path and trying one connect: the gRPC transport's own error is a chain of
/// library values that names neither.
enum SocketDiagnosis {
  /// The reason, or nil when the socket accepts connections (the failure was elsewhere).
  static func reason(_ path: String) -> String? {
    var info = stat()
    if stat(path, &info) != 0 {
      let code = errno
      switch code {
      case ENOENT: return "no such file (is crisp running? is --address or $CRISP_ADDRESS right?)"
      case EACCES: return "permission denied (run as root, or as a member of crisp's grpc.group)"
      default: return String(cString: strerror(code))
      }
    }
    guard info.st_mode & S_IFMT == S_IFSOCK else { return "not a socket" }
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard bytes.count < capacity else { return "the path is longer than a unix socket address allows (\(capacity - 1) bytes)" }
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
      for (index, byte) in bytes.enumerated() { buffer[index] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    if connected == 0 { return nil }
    switch errno {
    case ECONNREFUSED: return "connection refused (a socket left by a stopped crisp? is crisp running?)"
    case EACCES: return "permission denied (run as root, or as a member of crisp's grpc.group)"
    case let code: return String(cString: strerror(code))
    }
  }
}
