/// The image filesystem's accounted usage as the store holds it: committed blobs of the content store, and
/// measured snapshots (image layers and image-volume views; container writable layers are measured apart).
public struct StoreUsage: Sendable, Equatable {
  public var content = UsageTotals()
  public var snapshots = UsageTotals()

  public init(content: UsageTotals = UsageTotals(), snapshots: UsageTotals = UsageTotals()) {
    self.content = content
    self.snapshots = snapshots
  }

  public var total: UsageTotals { content + snapshots }
}
