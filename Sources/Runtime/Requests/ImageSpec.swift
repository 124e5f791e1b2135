/// An image as kubelet names it for a container or an image volume (reported back in statuses as sent).
public struct ImageSpec: Sendable, Equatable, Codable {
  public var image = ""
  public var annotations: [String: String] = [:]
  public var userSpecifiedImage = ""
  public var runtimeHandler = ""
  public var imageRef = ""

  public init(image: String = "") {
    self.image = image
  }
}
