// Fuzz targets over Sources/Registry: manifests and indexes as a registry or an archive serves them, image
// configs, and image references as kubelet, crictl or an archive's annotations spell them.
import CrispCore

let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  // `<Content-Type>\0<document>`, or a document alone (no Content-Type header).
  "manifest": { bytes in
    let pieces = fuzzPieces(bytes, limit: 2)
    let header = pieces.count == 2 ? pieces.first.map { String(decoding: $0, as: UTF8.self) } : nil
    let body = pieces.last ?? []
    guard let document = try? ManifestParser.parse(body, mediaType: header, reference: "fuzz") else { return }
    switch document {
    case .index(let index):
      _ = try? ManifestParser.select(from: index, platform: .host, reference: "fuzz")
      for descriptor in index.manifests { _ = descriptor.platform?.description }
    case .manifest(let manifest):
      for layer in manifest.layers { _ = MediaType.layerCompression(layer.mediaType) }
    }
  },
  "image-config": { bytes in
    guard let config = try? ManifestParser.parseConfig(bytes, reference: "fuzz") else { return }
    _ = config.rootfs.diffIDs.map(\.description)
  },
  "reference": { bytes in
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? Digest(parsing: text)
    guard let reference = try? ImageReference(parsing: text) else { return }
    // A parsed reference is normal: parsing its own spelling gives it back.
    guard let again = try? ImageReference(parsing: reference.description), again == reference else {
      fatalError("reference \"\(text)\" parsed to \"\(reference)\", which does not parse back to itself")
    }
    _ = reference.manifestReference
    _ = reference.taggedName
  },
]
