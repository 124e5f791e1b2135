public import CrispCore
import Foundation

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

public struct Platform: Codable, Sendable, Hashable, CustomStringConvertible {
  public var architecture: String
  public var os: String
  public var variant: String?
  public var osVersion: String?

  enum CodingKeys: String, CodingKey {
    case architecture, os, variant
    case osVersion = "os.version"
  }

  public init(architecture: String, os: String, variant: String? = nil) {
    self.architecture = architecture
    self.os = os
    self.variant = variant
  }

  public var description: String {
    [os, architecture, variant].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "/")
  }

  /// The platform of this machine, in the OCI/Go naming (`linux/amd64`, `linux/arm64/v8`).
  public static var host: Platform {
    #if arch(x86_64)
    return Platform(architecture: "amd64", os: "linux")
    #elseif arch(arm64)
    return Platform(architecture: "arm64", os: "linux", variant: "v8")
    #elseif arch(arm)
    return Platform(architecture: "arm", os: "linux", variant: "v7")
    #else
    return Platform(architecture: "unknown", os: "linux")
    #endif
  }

  /// Whether an image built for `self` runs here. A missing variant matches (most indexes omit it for
  /// amd64); arm64 treats "v8" and none as the same.
  public func matches(_ host: Platform) -> Bool {
    guard os == host.os, architecture == host.architecture else { return false }
    let mine = variant ?? "", theirs = host.variant ?? ""
    if mine.isEmpty || mine == theirs { return true }
    return architecture == "arm64" && (mine == "v8" && theirs.isEmpty)
  }
}

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

/// The parts of an image configuration crisp reads. Unknown fields are kept in the stored JSON, not here.
public struct ImageConfig: Codable, Sendable {
  public var architecture: String?
  public var os: String?
  public var variant: String?
  public var config: Runtime?
  public var rootfs: RootFS
  public var created: String?

  public init(config: Runtime?, rootfs: RootFS, architecture: String? = nil, os: String? = nil) {
    self.config = config
    self.rootfs = rootfs
    self.architecture = architecture
    self.os = os
  }

  /// The image's defaults for a container (`config` in the JSON, with Go-style capitalised keys).
  public struct Runtime: Codable, Sendable {
    public var user: String?
    public var env: [String]?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var workingDir: String?
    public var labels: [String: String]?
    public var stopSignal: String?
    public var exposedPorts: [String: EmptyObject]?
    public var volumes: [String: EmptyObject]?

    enum CodingKeys: String, CodingKey {
      case user = "User", env = "Env", entrypoint = "Entrypoint", cmd = "Cmd", workingDir = "WorkingDir"
      case labels = "Labels", stopSignal = "StopSignal", exposedPorts = "ExposedPorts", volumes = "Volumes"
    }

    public init() {}
  }

  public struct RootFS: Codable, Sendable {
    public var type: String
    public var diffIDs: [Digest]

    enum CodingKeys: String, CodingKey {
      case type
      case diffIDs = "diff_ids"
    }

    public init(diffIDs: [Digest]) {
      type = "layers"
      self.diffIDs = diffIDs
    }
  }

  public struct EmptyObject: Codable, Sendable, Hashable {
    public init() {}
  }
}

/// What a manifest request returned, parsed by media type.
public enum ManifestDocument: Sendable {
  case manifest(ImageManifest)
  case index(ImageIndex)
}

/// Strict parsing of registry documents: size-limited, schema-checked, unknown media types refused by name.
public enum ManifestParser {
  /// Manifests, indexes and configs larger than this are refused (no legitimate one comes close).
  public static let maximumDocumentSize = 4 * 1024 * 1024

  public static func parse(_ bytes: [UInt8], mediaType headerType: String?, reference: String) throws(CrispError) -> ManifestDocument {
    guard bytes.count <= maximumDocumentSize else {
      throw CrispError.invalidArgument("\(reference): manifest is \(bytes.count) bytes, over the \(maximumDocumentSize)-byte limit")
    }
    struct Probe: Decodable {
      var schemaVersion: Int?
      var mediaType: String?
      var manifests: [Descriptor]?
      var layers: [Descriptor]?
    }
    let data = Data(bytes)
    let probe: Probe
    do {
      probe = try JSONDecoder().decode(Probe.self, from: data)
    } catch {
      throw CrispError.invalidArgument("\(reference): manifest is not valid JSON: \(error)")
    }
    // The document's own mediaType wins over the Content-Type header, which some registries get wrong.
    // A header or descriptor type may carry parameters (`; charset=…`) or be empty.
    var mediaType = probe.mediaType ?? headerType.flatMap { $0.split(separator: ";", omittingEmptySubsequences: false).first }.map { String($0).trimmingSpaces } ?? ""
    if mediaType.isEmpty || mediaType == "application/json" {
      mediaType = probe.manifests != nil ? MediaType.ociIndex : MediaType.ociManifest
    }
    if mediaType == MediaType.dockerSchema1 || mediaType == MediaType.dockerSchema1Signed || probe.schemaVersion == 1 {
      throw CrispError.failedPrecondition("\(reference): Docker schema 1 manifests are not supported (deprecated since 2017); re-push the image with a current client")
    }
    guard probe.schemaVersion == 2 else {
      throw CrispError.invalidArgument("\(reference): manifest schemaVersion \(probe.schemaVersion.map(String.init) ?? "missing"), expected 2")
    }
    do {
      switch mediaType {
      case MediaType.ociIndex, MediaType.dockerManifestList:
        let index = try JSONDecoder().decode(ImageIndex.self, from: data)
        for (position, descriptor) in index.manifests.enumerated() {
          try descriptor.validate(field: "manifests[\(position)]", maximumSize: Int64(maximumDocumentSize), reference: reference)
        }
        return .index(index)
      case MediaType.ociManifest, MediaType.dockerManifest:
        let manifest = try JSONDecoder().decode(ImageManifest.self, from: data)
        try manifest.config.validate(field: "config", maximumSize: Int64(maximumDocumentSize), reference: reference)
        for (position, layer) in manifest.layers.enumerated() {
          try layer.validate(field: "layers[\(position)]", maximumSize: Descriptor.maximumBlobSize, reference: reference)
        }
        return .manifest(manifest)
      default:
        throw CrispError.invalidArgument("\(reference): unsupported manifest media type \"\(mediaType)\"")
      }
    } catch let error as CrispError {
      throw error
    } catch {
      throw CrispError.invalidArgument("\(reference): malformed manifest: \(error)")
    }
  }

  public static func parseConfig(_ bytes: [UInt8], reference: String) throws(CrispError) -> ImageConfig {
    guard bytes.count <= maximumDocumentSize else {
      throw CrispError.invalidArgument("\(reference): image config is \(bytes.count) bytes, over the \(maximumDocumentSize)-byte limit")
    }
    do {
      return try JSONDecoder().decode(ImageConfig.self, from: Data(bytes))
    } catch {
      throw CrispError.invalidArgument("\(reference): malformed image config: \(error)")
    }
  }

  /// The manifest for `platform` in an index, or an error listing what the index offers.
  public static func select(from index: ImageIndex, platform: Platform, reference: String) throws(CrispError) -> Descriptor {
    let candidates = index.manifests.filter { descriptor in
      // Attestation manifests (buildkit's "unknown/unknown") are never runnable images.
      guard let p = descriptor.platform else { return false }
      return p.matches(platform)
    }
    // Prefer an exact variant match over a variant-less one.
    if let exact = candidates.first(where: { ($0.platform?.variant ?? "") == (platform.variant ?? "") }) { return exact }
    if let first = candidates.first { return first }
    let offered = index.manifests.compactMap { $0.platform?.description }
    throw CrispError.notFound("\(reference): no manifest for platform \(platform) (the index offers: \(offered.isEmpty ? "none" : offered.joined(separator: ", ")))")
  }
}
