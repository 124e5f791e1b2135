public import CrispCore
import Foundation

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
    var mediaType =
      probe.mediaType ?? headerType.flatMap { $0.split(separator: ";", omittingEmptySubsequences: false).first }.map { String($0).trimmingSpaces }
      ?? ""
    if mediaType.isEmpty || mediaType == "application/json" {
      mediaType = probe.manifests != nil ? MediaType.ociIndex : MediaType.ociManifest
    }
    if mediaType == MediaType.dockerSchema1 || mediaType == MediaType.dockerSchema1Signed || probe.schemaVersion == 1 {
      throw CrispError.failedPrecondition(
        "\(reference): Docker schema 1 manifests are not supported (deprecated since 2017); re-push the image with a current client")
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
    throw CrispError.notFound(
      "\(reference): no manifest for platform \(platform) (the index offers: \(offered.isEmpty ? "none" : offered.joined(separator: ", ")))")
  }
}
