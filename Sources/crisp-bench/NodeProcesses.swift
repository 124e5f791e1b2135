import CrispCore

/// The processes a runtime runs for the node scenario's pods, found from /proc:
/// - shims: processes whose program name contains `shim` and whose command line names one of the pods'
///   sandbox or container ids (containerd's `containerd-shim-runc-v2 … -id <sandbox id>` serves a whole pod;
///   crisp's `crisp-shim --id <container id>` one container, the pause container included);
/// - pause: processes in a cgroup below the pods' cgroup parent that are not the pods' `sleep` (the pause
///   program under whatever name the runtime's pause image gives it).
struct NodeProcesses {
  var daemon: Int32?
  var shims: [Int32] = []
  var pauses: [Int32] = []

  static func find(daemon: Int32?, ids: Set<String>, cgroupParent: String) -> NodeProcesses {
    var found = NodeProcesses(daemon: daemon)
    for pid in ProcessAccounting.pids() where pid != daemon {
      let words = ProcessAccounting.arguments(pid)
      guard let program = words.first else { continue }
      if FilePath.lastComponent(of: program).contains("shim") {
        if words.contains(where: ids.contains) { found.shims.append(pid) }
        continue
      }
      let inPod = ProcessAccounting.cgroups(pid).contains { $0.path.hasPrefix(cgroupParent + "/") }
      if inPod, ProcessAccounting.command(pid) != "sleep" { found.pauses.append(pid) }
    }
    return found
  }

  /// Summed RSS and PSS of `pids`, in bytes.
  static func memorySum(_ pids: [Int32]) -> (rss: Double, pss: Double) {
    var rss = 0.0, pss = 0.0
    for pid in pids {
      guard let m = memory(of: pid) else { continue }
      rss += m.rss
      pss += m.pss
    }
    return (rss, pss)
  }

  /// CPU seconds of each of `pids`: its own (utime + stime) and its waited-for children's (cutime + cstime).
  static func cpuByPID(_ pids: [Int32]) -> [Int32: Double] {
    var result: [Int32: Double] = [:]
    for pid in pids { if let s = ProcessAccounting.stat(pid) { result[pid] = s.own + s.children } }
    return result
  }
}
