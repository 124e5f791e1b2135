/// A container's writable layer as last measured (at `timestamp`), on the snapshotter's filesystem at
/// `mountpoint`: kubelet's ephemeral-storage eviction reads it.
public struct WritableLayerUsage: Sendable, Equatable {
  public var timestamp: Int64
  public var mountpoint: String
  public var usedBytes: UInt64
  public var inodesUsed: UInt64

  public init(timestamp: Int64, mountpoint: String, usedBytes: UInt64, inodesUsed: UInt64) {
    self.timestamp = timestamp
    self.mountpoint = mountpoint
    self.usedBytes = usedBytes
    self.inodesUsed = inodesUsed
  }
}
