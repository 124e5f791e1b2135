import Glibc
import Synchronization

/// Stats passes' reads of cgroup counters, with each cgroup's files kept open between passes
/// (``CgroupCounterFiles``): kubelet reads every pod's and container's cgroup every ten seconds, and opening
/// the files each time was most of a pass.
///
/// Open files are bounded by what the process may open: a budget of cgroups taken from RLIMIT_NOFILE
/// (a quarter of the descriptors above 1024, at eight a cgroup; at most 1024 cgroups); past it, or when the limit is low, a
/// cgroup is read as ``Cgroups/sample(_:)`` reads it, opening and closing its files. Files of cgroups no
/// longer asked about are closed at the next ``retain(only:)``.
public final class CgroupCounters: Sendable {
  public let cgroups: Cgroups
  private let open = Mutex<[String: CgroupCounterFiles]>([:])
  private let capacity: Int

  public init(cgroups: Cgroups, capacity: Int? = nil) {
    self.cgroups = cgroups
    self.capacity = capacity ?? Self.defaultCapacity()
  }

  /// How many cgroups' files may stay open: a quarter of the descriptors above 1024, one cgroup being at
  /// most eight (the rest is for exec streams, pulls, CNI and the store).
  static func defaultCapacity() -> Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
    let soft = UInt64(min(limit.rlim_cur, 1 << 20))  // RLIM_INFINITY is all ones
    guard soft > 1024 else { return 0 }
    return Int(min((soft - 1024) / 4 / 8, 1024))
  }

  /// The cgroup's counters now (`parts`: the optional ones wanted); nil when it does not exist.
  public func sample(_ cgroupsPath: String, parts: CgroupSample.Parts = .all) -> CgroupSample? {
    let relative = cgroups.relativeDirectory(cgroupsPath)
    if let files = open.withLock({ $0[relative] }) {
      let reader = CgroupFileReader()
      let sample = cgroups.sample(files, reader: reader, parts: parts)
      if reader.readFailures == 0 { return sample }
      // Removed (and perhaps made again under the same path): open it afresh.
      _ = open.withLock { $0.removeValue(forKey: relative) }
    }
    guard let files = cgroups.openCounterFiles(relative) else { return nil }
    let sample = cgroups.sample(files, reader: CgroupFileReader(), parts: parts)
    open.withLock { open in
      if open.count < capacity { open[relative] = files }
    }
    return sample
  }

  /// Closes the files of every cgroup not in `cgroupsPaths` (containers and pods no longer listed).
  public func retain(only cgroupsPaths: Set<String>) {
    let keep = Set(cgroupsPaths.map { cgroups.relativeDirectory($0) })
    // The files close when the last reference goes, outside the lock.
    let dropped: [CgroupCounterFiles] = open.withLock { open in
      let gone = open.filter { !keep.contains($0.key) }
      for key in gone.keys { open.removeValue(forKey: key) }
      return Array(gone.values)
    }
    _ = dropped
  }

  /// How many cgroups have their files open (for tests and the status report).
  public var openCount: Int { open.withLock { $0.count } }
}
