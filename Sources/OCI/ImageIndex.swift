/// An image index / manifest list: one manifest per platform.
public struct ImageIndex: Codable, Sendable {
  public var schemaVersion: Int
  public var mediaType: String?
  public var manifests: [Descriptor]
  public var annotations: [String: String]?

  public init(mediaType: String, manifests: [Descriptor], annotations: [String: String]? = nil) {
    schemaVersion = 2
    self.mediaType = mediaType
    self.manifests = manifests
    self.annotations = annotations
  }
}
