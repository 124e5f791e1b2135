/// Which containers ListContainerStats reports: ids and sandbox ids by prefix (crictl sends short ones),
/// labels exactly. Empty fields match everything.
public struct ContainerStatsFilter: Sendable, Equatable {
  public var id = ""
  public var podSandboxID = ""
  public var labelSelector: [String: String] = [:]

  public init(id: String = "", podSandboxID: String = "", labelSelector: [String: String] = [:]) {
    self.id = id
    self.podSandboxID = podSandboxID
    self.labelSelector = labelSelector
  }
}
