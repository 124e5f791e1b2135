/// Which sandboxes ListPodSandboxStats reports: the id by prefix, labels exactly. Empty fields match
/// everything.
public struct PodStatsFilter: Sendable, Equatable {
  public var id = ""
  public var labelSelector: [String: String] = [:]

  public init(id: String = "", labelSelector: [String: String] = [:]) {
    self.id = id
    self.labelSelector = labelSelector
  }
}
