public import CrispCore

/// An image manifest (OCI or Docker schema 2): config plus ordered layers.
public struct ImageManifest: Codable, Sendable {
  public var schemaVersion: Int
  public var mediaType: String?
  public var config: Descriptor
  public var layers: [Descriptor]
  public var annotations: [String: String]?

  public init(mediaType: String, config: Descriptor, layers: [Descriptor], annotations: [String: String]? = nil) {
    schemaVersion = 2
    self.mediaType = mediaType
    self.config = config
    self.layers = layers
    self.annotations = annotations
  }
}

extension ImageManifest {
  /// Config plus layers, the image size kubelet's image GC counts. Sizes come from the registry: the sum is
  /// checked, whatever validation they went through.
  public func totalSize(reference: String) throws(CrispError) -> Int64 {
    var total: Int64 = 0
    for descriptor in [config] + layers {
      guard descriptor.size >= 0 else {
        throw CrispError.invalidArgument("\(reference): \(descriptor.digest): negative size \(descriptor.size)")
      }
      let (sum, overflow) = total.addingReportingOverflow(descriptor.size)
      guard !overflow else {
        throw CrispError.invalidArgument("\(reference): the sizes of the config and layers add up past \(Int64.max) bytes (at \(descriptor.digest))")
      }
      total = sum
    }
    return total
  }
}
