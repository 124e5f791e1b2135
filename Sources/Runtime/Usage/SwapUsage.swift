/// Swap of a cgroup at `timestamp`; `availableBytes` only when the cgroup has a swap limit.
public struct SwapUsage: Sendable, Equatable {
  public var timestamp: Int64
  public var usageBytes: UInt64
  public var availableBytes: UInt64?

  public init(timestamp: Int64, usageBytes: UInt64, availableBytes: UInt64?) {
    self.timestamp = timestamp
    self.usageBytes = usageBytes
    self.availableBytes = availableBytes
  }
}
