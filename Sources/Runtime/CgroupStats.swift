import CrispCore
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
  /// Each file is opened and read once, into one buffer for the whole sample.
  public func sample(_ cgroupsPath: String) -> CgroupSample? {
    let relative = relativeDirectory(cgroupsPath)
    let reader = CgroupFileReader()
    var sample = CgroupSample(timestamp: Store.now())
    switch layout {
    case .legacy:
      let memory = "\(mountPoint)/memory\(relative)"
      sample.memoryUsage = reader.number("\(memory)/memory.usage_in_bytes")
      // The directory is looked at only when the first file is missing.
      if sample.memoryUsage == nil, !FilePath.isDirectory(memory) { return nil }
      sample.cpuNanoseconds = reader.number("\(mountPoint)/cpuacct\(relative)/cpuacct.usage")
      sample.memoryLimit = reader.number("\(memory)/memory.limit_in_bytes").flatMap { $0 >= 1 << 62 ? nil : $0 }
      let stat = reader.values("\(memory)/memory.stat", keys: ["total_inactive_file", "total_rss", "total_pgfault", "total_pgmajfault"])
      (sample.inactiveFile, sample.rss, sample.pageFaults, sample.majorPageFaults) = (stat[0], stat[1], stat[2], stat[3])
      if let combined = reader.number("\(memory)/memory.memsw.usage_in_bytes"), let usage = sample.memoryUsage {
        sample.swapUsage = combined > usage ? combined - usage : 0
      }
      sample.processCount = reader.number("\(mountPoint)/pids\(relative)/pids.current")
    case .unified:
      let directory = mountPoint + relative
      sample.memoryUsage = reader.number("\(directory)/memory.current")
      if sample.memoryUsage == nil, !FilePath.isDirectory(directory) { return nil }
      sample.cpuNanoseconds = reader.values("\(directory)/cpu.stat", keys: ["usage_usec"])[0].flatMap { usec in
        let (nanoseconds, overflow) = usec.multipliedReportingOverflow(by: 1000)
        return overflow ? nil : nanoseconds
      }
      sample.memoryLimit = reader.number("\(directory)/memory.max")
      let stat = reader.values("\(directory)/memory.stat", keys: ["inactive_file", "anon", "pgfault", "pgmajfault"])
      (sample.inactiveFile, sample.rss, sample.pageFaults, sample.majorPageFaults) = (stat[0], stat[1], stat[2], stat[3])
      sample.swapUsage = reader.number("\(directory)/memory.swap.current")
      sample.swapLimit = reader.number("\(directory)/memory.swap.max")
      sample.processCount = reader.number("\(directory)/pids.current")
    }
    return sample
  }
}
