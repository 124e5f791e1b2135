/// A limit on one huge page size (`pageSize` as the kernel names it, "2MB" or "1GB"), in bytes.
public struct HugepageLimit: Sendable, Equatable, Codable {
  public var pageSize: String
  public var limit: UInt64

  public init(pageSize: String, limit: UInt64) {
    self.pageSize = pageSize
    self.limit = limit
  }
}
