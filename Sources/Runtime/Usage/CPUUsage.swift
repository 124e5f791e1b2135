/// CPU time of a cgroup at `timestamp` (nanoseconds since the epoch; 0 when the cgroup had no CPU counter).
public struct CPUUsage: Sendable, Equatable {
  public var timestamp: Int64 = 0
  /// Cumulative CPU time, in nanoseconds.
  public var coreNanoseconds: UInt64?
  /// Cores in use since the previous reading, in billionths of a core; nil on the first reading.
  public var nanoCores: UInt64?

  public init() {}
}
