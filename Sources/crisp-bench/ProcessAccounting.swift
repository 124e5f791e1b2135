import CrispCore
import Foundation
import Glibc

/// What the node scenario reads from /proc and the cgroup filesystem: CPU time, memory, command lines and
/// cgroups of processes. Every read is of a bounded kernel file; a process that ends mid-read reads as nil.
enum ProcessAccounting {
  /// Clock ticks per second, the unit of /proc/<pid>/stat's times.
  static let ticksPerSecond: Double = {
    let ticks = sysconf(Int32(_SC_CLK_TCK))
    return ticks > 0 ? Double(ticks) : 100
  }()

  /// The pids of every process now.
  static func pids() -> [Int32] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init)
  }

  /// The process's parent pid and its CPU time in seconds: its own (utime + stime), and that of the children
  /// it has waited for (cutime + cstime).
  static func stat(_ pid: Int32) -> (parent: Int32, own: Double, children: Double)? {
    guard let text = (try? FilePath.readText("/proc/\(pid)/stat")) ?? nil, let close = text.lastIndex(of: ")") else { return nil }
    // After the command's closing parenthesis: state, ppid, …; utime is field 14 of the line, so 11 here.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 14, let parent = Int32(fields[1]), let utime = Double(fields[11]), let stime = Double(fields[12]),
      let cutime = Double(fields[13]), let cstime = Double(fields[14])
    else { return nil }
    return (parent, (utime + stime) / ticksPerSecond, (cutime + cstime) / ticksPerSecond)
  }

  /// The process's command line, word by word (at most 64 words are looked at).
  static func arguments(_ pid: Int32) -> [String] {
    guard let bytes = (try? FilePath.read("/proc/\(pid)/cmdline")) ?? nil else { return [] }
    return bytes.split(separator: 0).prefix(64).map { String(decoding: $0, as: UTF8.self) }
  }

  static func command(_ pid: Int32) -> String {
    (((try? FilePath.readText("/proc/\(pid)/comm")) ?? nil) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The process's cgroup paths, one per hierarchy (`controllers:path` lines of /proc/<pid>/cgroup).
  static func cgroups(_ pid: Int32) -> [(controllers: String, path: String)] {
    guard let text = (try? FilePath.readText("/proc/\(pid)/cgroup")) ?? nil else { return [] }
    return text.split(separator: "\n").compactMap { line in
      let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard parts.count == 3 else { return nil }
      return (String(parts[1]), String(parts[2]))
    }
  }

  /// CPU seconds used by every process that ever ran in `pid`'s cgroup (and the cgroups below it), with
  /// the cgroup's path; nil unless the process is in a cgroup of the benchmark's own (a path whose last
  /// component starts with `crisp-bench`, as deploy/bench.sh makes for each daemon), since a shared cgroup
  /// would count other work. cgroup v1 `cpuacct.usage`, else v2 `cpu.stat` `usage_usec`.
  static func cgroupCPU(of pid: Int32) -> (path: String, seconds: Double)? {
    let groups = cgroups(pid)
    let ours = { (path: String) in FilePath.lastComponent(of: path).hasPrefix("crisp-bench") }
    if let v1 = groups.first(where: { $0.controllers.split(separator: ",").contains("cpuacct") }) {
      guard ours(v1.path) else { return nil }
      for mount in ["/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu"] {
        if let text = (try? FilePath.readText("\(mount)\(v1.path)/cpuacct.usage")) ?? nil,
          let nanoseconds = Double(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
          return (v1.path, nanoseconds / 1e9)
        }
      }
      return nil
    }
    guard let v2 = groups.first(where: { $0.controllers.isEmpty }), ours(v2.path),
      let text = (try? FilePath.readText("/sys/fs/cgroup\(v2.path)/cpu.stat")) ?? nil
    else { return nil }
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.count == 2, fields[0] == "usage_usec", let microseconds = Double(fields[1]) { return (v2.path, microseconds / 1e6) }
    }
    return nil
  }
}
