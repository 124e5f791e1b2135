import CLinux
import CrispCore
import Glibc

/// The PID namespace of a running container, held open for PID mode TARGET.
///
/// A stored pid is only a number: if the target exits and the pid is reused before `runc create` joins
/// `/proc/<pid>/ns/pid`, the new container would land in a stranger's namespace. So the namespace is opened
/// while a pidfd pins the process, the process is checked to be the target (its cgroup names the
/// container) and still alive after the open, and runc is given this daemon's descriptor for it.
struct TargetPIDNamespace: Sendable {
  let fd: Int32

  /// The path runc opens: this daemon's descriptor, valid while `self` is open.
  var path: String { "/proc/\(getpid())/fd/\(fd)" }

  static func open(pid: Int32, containerID: String, field: String) throws(CrispError) -> TargetPIDNamespace {
    let gone = CrispError.failedPrecondition("\(field) \"\(containerID)\": the target container is no longer running")
    let pidfd = crisp_pidfd_open(pid)
    guard pidfd >= 0 else { throw gone }
    defer { Glibc.close(pidfd) }
    guard let cgroups = try? FilePath.readText("/proc/\(pid)/cgroup"), cgroups.contains(containerID) else { throw gone }
    let fd = Glibc.open("/proc/\(pid)/ns/pid", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw gone }
    // Alive (and not a zombie waiting to be reaped) after the open: the pid could not have been reused in
    // between, so the namespace is the target's, and its init still runs.
    let zombie = ProcessStat.read(pid).map { $0.state == "Z" } ?? true
    guard crisp_pidfd_alive(pidfd) == 1, !zombie else {
      Glibc.close(fd)
      throw gone
    }
    return TargetPIDNamespace(fd: fd)
  }

  func close() { Glibc.close(fd) }
}
