/// The media types crisp accepts from registries and archives.
public enum MediaType {
  public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
  public static let ociIndex = "application/vnd.oci.image.index.v1+json"
  public static let ociConfig = "application/vnd.oci.image.config.v1+json"
  public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
  public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
  public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
  public static let ociLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
  public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
  public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
  public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
  public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
  public static let dockerLayer = "application/vnd.docker.image.rootfs.diff.tar"
  public static let dockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json"
  public static let dockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"

  /// The `Accept` list for manifest requests, most specific first.
  public static let manifestAccept = [ociIndex, ociManifest, dockerManifestList, dockerManifest]

  /// Whether `text` has the shape of a media type, `type/subtype` with RFC 6838 name characters (and
  /// `+suffix`), at most 255 bytes. Parameters are not part of a descriptor's media type.
  public static func isWellFormed(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard bytes.count <= 255, let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else { return false }
    func name(_ part: ArraySlice<UInt8>) -> Bool {
      guard let first = part.first, part.count <= 127, isAlphanumeric(first) else { return false }
      return part.allSatisfy { isAlphanumeric($0) || Array("!#$&-^_.+".utf8).contains($0) }
    }
    return name(bytes[..<slash]) && name(bytes[(slash + 1)...])
  }

  private static func isAlphanumeric(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
      || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
  }

  /// How a layer blob is compressed, from its media type; `nil` for a type crisp cannot unpack.
  public static func layerCompression(_ mediaType: String) -> LayerCompression? {
    switch mediaType {
    case ociLayer, dockerLayer: return LayerCompression.none
    case ociLayerGzip, dockerLayerGzip, ociLayerNondistributableGzip, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
      return .gzip
    case ociLayerZstd: return .zstd
    default: return nil
    }
  }
}

public enum LayerCompression: String, Sendable {
  case none, gzip, zstd
}
