import CrispCore
import Foundation
import Store

/// One reading of a cgroup's counters, from the v1 controllers (cpuacct, memory, pids) or the v2 files.
public struct CgroupSample: Sendable, Equatable {
  /// When it was read, in nanoseconds since the epoch.
  public var timestamp: Int64
  public var cpuNanoseconds: UInt64?
  public var memoryUsage: UInt64?
  /// nil when the cgroup has no limit.
  public var memoryLimit: UInt64?
  public var inactiveFile: UInt64?
  public var rss: UInt64?
  public var pageFaults: UInt64?
  public var majorPageFaults: UInt64?
  public var swapUsage: UInt64?
  public var swapLimit: UInt64?
  public var processCount: UInt64?

  /// What kubelet calls the working set: usage minus the inactive file cache (reclaimable first).
  public var workingSet: UInt64? {
    guard let usage = memoryUsage else { return nil }
    let inactive = inactiveFile ?? 0
    return usage > inactive ? usage - inactive : 0
  }

  /// Bytes left before the limit; nil without one.
  public var available: UInt64? {
    guard let limit = memoryLimit, let working = workingSet else { return nil }
    return limit > working ? limit - working : 0
  }
}

extension Cgroups {
  /// The cgroup's directory relative to a hierarchy's root: the cgroupfs path as given, or where systemd
  /// puts the unit (`slice:prefix:name`) or a bare slice (`kubepods-burstable-pod1.slice`).
  func relativeDirectory(_ cgroupsPath: String) -> String {
    guard driver == .systemd else { return cgroupsPath.hasPrefix("/") ? cgroupsPath : "/" + cgroupsPath }
    if cgroupsPath.contains(":") { return Self.systemdDirectory(cgroupsPath) }
    let slice = FilePath.lastComponent(of: cgroupsPath)
    let expanded = Self.systemdDirectory("\(slice):x:y")
    return String(expanded.dropLast("/x-y.scope".count))
  }

  /// Reads the counters of a cgroup; nil when it does not exist (the container is gone, or never started).
  public func sample(_ cgroupsPath: String) -> CgroupSample? {
    let relative = relativeDirectory(cgroupsPath)
    var sample = CgroupSample(timestamp: Store.now())
    switch layout {
    case .legacy:
      let memory = "\(mountPoint)/memory\(relative)"
      guard FilePath.isDirectory(memory) else { return nil }
      sample.cpuNanoseconds = Self.number("\(mountPoint)/cpuacct\(relative)/cpuacct.usage")
      sample.memoryUsage = Self.number("\(memory)/memory.usage_in_bytes")
      sample.memoryLimit = Self.number("\(memory)/memory.limit_in_bytes").flatMap { $0 >= 1 << 62 ? nil : $0 }
      let stat = Self.keyed("\(memory)/memory.stat")
      sample.inactiveFile = stat["total_inactive_file"]
      sample.rss = stat["total_rss"]
      sample.pageFaults = stat["total_pgfault"]
      sample.majorPageFaults = stat["total_pgmajfault"]
      if let combined = Self.number("\(memory)/memory.memsw.usage_in_bytes"), let usage = sample.memoryUsage {
        sample.swapUsage = combined > usage ? combined - usage : 0
      }
      sample.processCount = Self.number("\(mountPoint)/pids\(relative)/pids.current")
    case .unified:
      let directory = mountPoint + relative
      guard FilePath.isDirectory(directory) else { return nil }
      sample.cpuNanoseconds = Self.keyed("\(directory)/cpu.stat")["usage_usec"].map { $0 * 1000 }
      sample.memoryUsage = Self.number("\(directory)/memory.current")
      sample.memoryLimit = Self.number("\(directory)/memory.max")
      let stat = Self.keyed("\(directory)/memory.stat")
      sample.inactiveFile = stat["inactive_file"]
      sample.rss = stat["anon"]
      sample.pageFaults = stat["pgfault"]
      sample.majorPageFaults = stat["pgmajfault"]
      sample.swapUsage = Self.number("\(directory)/memory.swap.current")
      sample.swapLimit = Self.number("\(directory)/memory.swap.max")
      sample.processCount = Self.number("\(directory)/pids.current")
    }
    return sample
  }

  /// A file holding one number ("max" and unreadable files are nil).
  static func number(_ path: String) -> UInt64? {
    guard let text = (try? FilePath.readText(path)) ?? nil else { return nil }
    return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
  }

  /// A file of `key value` lines (memory.stat, cpu.stat).
  static func keyed(_ path: String) -> [String: UInt64] {
    guard let text = (try? FilePath.readText(path)) ?? nil else { return [:] }
    var result: [String: UInt64] = [:]
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: " ")
      if parts.count == 2, let value = UInt64(parts[1]) { result[String(parts[0])] = value }
    }
    return result
  }
}
