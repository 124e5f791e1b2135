public import CrispCore

/// A pointer to content: what it is, its digest and size, and (in an index) its platform.
public struct Descriptor: Codable, Sendable, Hashable {
  public var mediaType: String
  public var digest: Digest
  public var size: Int64
  public var platform: Platform?
  public var annotations: [String: String]?
  public var urls: [String]?

  public init(mediaType: String, digest: Digest, size: Int64, platform: Platform? = nil, annotations: [String: String]? = nil) {
    self.mediaType = mediaType
    self.digest = digest
    self.size = size
    self.platform = platform
    self.annotations = annotations
  }

  /// The largest layer a manifest may declare (1 TiB). Sizes are read from the registry's JSON and summed
  /// for progress and the image's size; a bound keeps every sum far from overflow and refuses a size no
  /// real layer has before anything is downloaded.
  public static let maximumBlobSize: Int64 = 1 << 40

  /// Refuses a descriptor no image can have: an empty or malformed media type (OCI: REQUIRED, RFC 6838
  /// `type/subtype`), or a size that is negative or over `maximumSize`. `field` names it in the error
  /// (`layers[2]`), with its digest.
  public func validate(field: String, maximumSize: Int64, reference: String) throws(CrispError) {
    guard MediaType.isWellFormed(mediaType) else {
      throw CrispError.invalidArgument("\(reference): \(field) (\(digest)): mediaType \"\(mediaType)\" is not a media type")
    }
    guard size >= 0, size <= maximumSize else {
      throw CrispError.invalidArgument("\(reference): \(field) (\(digest)): size \(size) is out of range (0...\(maximumSize))")
    }
  }
}
