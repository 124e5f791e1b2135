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

  /// The optional parts of a sample (CPU and memory are always read).
  public struct Parts: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let swap = Parts(rawValue: 1)
    public static let processes = Parts(rawValue: 2)
    public static let all: Parts = [.swap, .processes]
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

  /// The files a sample reads, as (directory below the mount point, name); the first is the one whose
  /// absence means there is no such cgroup.
  var counterFileNames: [(directory: String, name: String)] {
    switch layout {
    case .legacy:
      return [
        ("/memory", "memory.usage_in_bytes"), ("/memory", "memory.limit_in_bytes"), ("/memory", "memory.stat"),
        ("/memory", "memory.memsw.usage_in_bytes"), ("/cpuacct", "cpuacct.usage"), ("/pids", "pids.current"),
      ]
    case .unified:
      return [
        ("", "memory.current"), ("", "cpu.stat"), ("", "memory.max"), ("", "memory.stat"), ("", "memory.swap.current"),
        ("", "memory.swap.max"), ("", "pids.current"),
      ]
    }
  }

  /// Opens the counter files of the cgroup at `relative` (from ``relativeDirectory(_:)``); nil when it
  /// does not exist.
  func openCounterFiles(_ relative: String) -> CgroupCounterFiles? {
    CgroupCounterFiles(root: mountPoint, relative: relative, files: counterFileNames)
  }

  /// Reads the counters of a cgroup; nil when it does not exist (the container is gone, or never started).
  /// Each file is opened and read once, into one buffer for the whole sample; stats passes keep the files
  /// open instead (``CgroupCounters``).
  public func sample(_ cgroupsPath: String) -> CgroupSample? {
    guard let files = openCounterFiles(relativeDirectory(cgroupsPath)) else { return nil }
    return sample(files, reader: CgroupFileReader())
  }

  /// Reads a sample from open files. A file that is open but fails to read (the cgroup was removed since
  /// it was opened) reads as absent and is counted in the reader's ``CgroupFileReader/readFailures``.
  ///
  /// `parts` leaves out what the caller does not report (a container's stats have no process count, a pod's
  /// no swap): each counter file is a system call, and a stats pass reads thousands.
  func sample(_ files: CgroupCounterFiles, reader: CgroupFileReader, parts: CgroupSample.Parts = .all) -> CgroupSample {
    var sample = CgroupSample(timestamp: Store.now())
    switch layout {
    case .legacy:
      sample.memoryUsage = reader.number(files.descriptor(0))
      sample.memoryLimit = reader.number(files.descriptor(1)).flatMap { $0 >= 1 << 62 ? nil : $0 }
      let stat = reader.values(files.descriptor(2), keys: ["total_inactive_file", "total_rss", "total_pgfault", "total_pgmajfault"])
      (sample.inactiveFile, sample.rss, sample.pageFaults, sample.majorPageFaults) = (stat[0], stat[1], stat[2], stat[3])
      if parts.contains(.swap), let combined = reader.number(files.descriptor(3)), let usage = sample.memoryUsage {
        sample.swapUsage = combined > usage ? combined - usage : 0
      }
      sample.cpuNanoseconds = reader.number(files.descriptor(4))
      if parts.contains(.processes) { sample.processCount = reader.number(files.descriptor(5)) }
    case .unified:
      sample.memoryUsage = reader.number(files.descriptor(0))
      sample.cpuNanoseconds = reader.values(files.descriptor(1), keys: ["usage_usec"])[0].flatMap { usec in
        let (nanoseconds, overflow) = usec.multipliedReportingOverflow(by: 1000)
        return overflow ? nil : nanoseconds
      }
      sample.memoryLimit = reader.number(files.descriptor(2))
      let stat = reader.values(files.descriptor(3), keys: ["inactive_file", "anon", "pgfault", "pgmajfault"])
      (sample.inactiveFile, sample.rss, sample.pageFaults, sample.majorPageFaults) = (stat[0], stat[1], stat[2], stat[3])
      if parts.contains(.swap) {
        sample.swapUsage = reader.number(files.descriptor(4))
        sample.swapLimit = reader.number(files.descriptor(5))
      }
      if parts.contains(.processes) { sample.processCount = reader.number(files.descriptor(6)) }
    }
    return sample
  }
}
