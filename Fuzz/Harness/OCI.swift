// Fuzz targets over Sources/OCI: manifests and indexes as a registry or an archive serves them, and image
// configs.
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
]
