import CLinux
import Glibc

/// The pid file an OCI runtime's `exec --pid-file` writes. A caller that must end an exec (timeout, client
/// gone) kills the command itself: the runtime then reaps it and exits on its own, where killing the
/// runtime first would orphan the command.
public struct ExecPIDFile: Sendable {
  public let path: String

  public init(path: String) { self.path = path }

  /// SIGKILL to the process the file names, through a pidfd. With `parent`, only while that process's
  /// parent is `parent` (the runtime): a pid the command left behind and something else reused is never hit.
  public func killCommand(parent: Int32? = nil) {
    guard let text = try? FilePath.readText(path), let pid = Int32(text.trimmingSpaces), pid > 0 else { return }
    let handle = crisp_pidfd_open(pid)
    guard handle >= 0 else { return }
    defer { close(handle) }
    if let parent, ProcessStat.read(pid)?.parent != parent { return }
    _ = crisp_pidfd_signal(handle, SIGKILL)
  }

  /// Removes the file; a missing one is fine.
  public func remove() { unlink(path) }
}
