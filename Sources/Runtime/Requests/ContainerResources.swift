/// A container's Linux resources: what it is created with, what UpdateContainerResources changes, and what
/// ContainerStatus reports back. Zero and empty mean "not set", as kubelet sends them; -1 is kept where the
/// CRI gives it a meaning (unlimited swap, no CPU quota).
public struct ContainerResources: Sendable, Equatable, Codable {
  public var cpuPeriod: Int64 = 0
  public var cpuQuota: Int64 = 0
  public var cpuShares: Int64 = 0
  public var memoryLimitInBytes: Int64 = 0
  public var oomScoreAdj: Int64 = 0
  public var cpusetCpus = ""
  public var cpusetMems = ""
  public var hugepageLimits: [HugepageLimit] = []
  public var unified: [String: String] = [:]
  public var memorySwapLimitInBytes: Int64 = 0

  public init() {}
}
