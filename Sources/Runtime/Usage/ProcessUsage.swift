/// How many processes a pod's cgroups held at `timestamp`.
public struct ProcessUsage: Sendable, Equatable {
  public var timestamp: Int64
  public var count: UInt64

  public init(timestamp: Int64, count: UInt64) {
    self.timestamp = timestamp
    self.count = count
  }
}
