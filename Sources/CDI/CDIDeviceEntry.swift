/// A device the registry knows: its edits, the edits common to its spec file, and that file.
public struct CDIDeviceEntry: Sendable, Equatable {
  public var name: CDIName
  public var specPath: String
  public var edits: CDIContainerEdits
  public var specEdits: CDIContainerEdits

  public init(name: CDIName, specPath: String, edits: CDIContainerEdits, specEdits: CDIContainerEdits) {
    self.name = name
    self.specPath = specPath
    self.edits = edits
    self.specEdits = specEdits
  }
}
