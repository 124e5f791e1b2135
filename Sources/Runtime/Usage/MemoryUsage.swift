/// Memory of a cgroup at `timestamp` (0 when the cgroup had no memory counters), kubelet's eviction inputs.
public struct MemoryUsage: Sendable, Equatable {
  public var timestamp: Int64 = 0
  public var usageBytes: UInt64?
  public var workingSetBytes: UInt64?
  public var availableBytes: UInt64?
  public var rssBytes: UInt64?
  public var pageFaults: UInt64?
  public var majorPageFaults: UInt64?

  public init() {}
}
