/// Capabilities to add to and drop from the default set, by name (with or without CAP_, or ALL).
public struct CapabilityRequest: Sendable, Equatable, Codable {
  public var addCapabilities: [String] = []
  public var dropCapabilities: [String] = []
  public var addAmbientCapabilities: [String] = []

  public init(addCapabilities: [String] = [], dropCapabilities: [String] = [], addAmbientCapabilities: [String] = []) {
    self.addCapabilities = addCapabilities
    self.dropCapabilities = dropCapabilities
    self.addAmbientCapabilities = addAmbientCapabilities
  }
}
