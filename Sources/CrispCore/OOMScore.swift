#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Sets `oom_score_adj` for the daemon and (later) for containers, clamping instead of failing.
///
/// Lowering a score needs CAP_SYS_RESOURCE. Without it (inside a restricted container, or on this kind of
/// build host) the kernel refuses; a runtime that then refuses to start, or to start a pod, is worse than one
/// that keeps the current score and says so. Raising a score is always allowed.
public enum OOMScore {
  public static let minimum = -1000
  public static let maximum = 1000

  /// What happened when a score was applied.
  public enum Outcome: Equatable, Sendable {
    /// The requested score is now in force.
    case applied(Int)
    /// The kernel refused to lower the score; `kept` is what remains in force.
    case clamped(requested: Int, kept: Int)
  }

  /// The `oom_score_adj` of `pid` (`"self"` for the calling process).
  public static func current(of pid: String = "self") throws(SystemError) -> Int {
    let path = "/proc/\(pid)/oom_score_adj"
    guard let text = try FilePath.readText(path), let value = Int(text.trimmingSpaces) else {
      throw SystemError("read", path, errno: EINVAL)
    }
    return value
  }

  /// Applies `requested` (clamped to the kernel's range) to `pid`. A refusal to lower the score is not an
  /// error: the current value is kept and reported as `.clamped`.
  public static func apply(_ requested: Int, to pid: String = "self") throws(SystemError) -> Outcome {
    let target = min(max(requested, minimum), maximum)
    let path = "/proc/\(pid)/oom_score_adj"
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .last("open", path) }
    defer { close(fd) }
    let text = Array("\(target)\n".utf8)
    let n = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    if n == text.count { return .applied(target) }
    let err = errno
    if err == EACCES || err == EPERM {
      return .clamped(requested: requested, kept: try current(of: pid))
    }
    throw SystemError("write", path, errno: err)
  }

  /// The score a child of the daemon (a shim, a container) should get when the daemon's own score is
  /// `daemonScore`: under `restrictToDaemon` nothing may be lower than the daemon's own score, matching
  /// containerd's `restrict_oom_score_adj`.
  public static func clampForChild(_ requested: Int, daemonScore: Int, restrictToDaemon: Bool) -> Int {
    let bounded = min(max(requested, minimum), maximum)
    return restrictToDaemon ? max(bounded, daemonScore) : bounded
  }
}

extension String {
  /// The string without leading and trailing ASCII whitespace.
  public var trimmingSpaces: String {
    let scalars = unicodeScalars
    guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
      let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
    else { return "" }
    return String(scalars[first...last])
  }
}
