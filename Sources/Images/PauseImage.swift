import CrispCore
import Foundation
import Registry
import Store
import OCI

/// The sandbox image crisp builds itself from its own pause program, so a node with no registry access can
/// still run pods. Built at start-up under the configured `sandbox_image` name (when that is the built-in
/// default), recorded pinned so kubelet's image GC never removes it. Deterministic: the same pause binary
/// always gives the same image id.
enum PauseImage {
  static func ensure(name: String, binary: String, manager: ImageManager) async throws(CrispError) -> ImageRecord {
    let program: [UInt8]
    do {
      guard let bytes = try FilePath.read(binary, limit: 16 << 20) else {
        throw CrispError.failedPrecondition("pause program \(binary) is missing")
      }
      program = bytes
    } catch let error as CrispError {
      throw error
    } catch {
      throw CrispError.failedPrecondition("pause program \(binary): \(error)")
    }
    var tar = TarWriter()
    try tar.add(path: "pause", mode: 0o755, content: program)
    try tar.finish()
    let layer = tar.bytes
    let layerDigest = Digest(sha256Hex: SHA256Stream.hex(layer))
    let platform = Platform.host
    // Written by hand (not JSONEncoder) so the bytes, and with them the image id, never change.
    let configJSON = """
      {"architecture":"\(platform.architecture)","config":{"Entrypoint":["/pause"],"User":"65535:65535",\
      "WorkingDir":"/","Labels":{"io.crisp.image":"pause"}},"os":"linux",\
      "rootfs":{"type":"layers","diff_ids":["\(layerDigest)"]}}
      """
    let config = Array(configJSON.utf8)
    let configDigest = Digest(sha256Hex: SHA256Stream.hex(config))
    let manifestJSON = """
      {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)",\
      "config":{"mediaType":"\(MediaType.ociConfig)","digest":"\(configDigest)","size":\(config.count)},\
      "layers":[{"mediaType":"\(MediaType.ociLayer)","digest":"\(layerDigest)","size":\(layer.count)}]}
      """
    let manifest = Array(manifestJSON.utf8)
    let reference = try ImageReference(parsing: name)
    let id = "sha256:\(configDigest.hex)"
    if let tagged = reference.taggedName, try manager.store.imageID(forReference: tagged) == id,
      let existing = try manager.store.image(id: id), try manager.snapshotter.layer(chainID: existing.chainID) != nil
    {
      if !existing.pinned { try manager.store.setPinned(id, true) }
      return existing
    }
    try manager.content.write(layer, expectedSHA256: layerDigest.hex)
    let record = try await manager.commitLocal(
      manifestBytes: manifest, configBytes: config, names: [reference], pinned: true)
    manager.logger.info("built the pause image", metadata: ["image": "\(name)", "id": "\(record.id)"])
    return record
  }
}

extension ImageManager {
  /// Records an image whose layer blobs are already in the content store (built locally or imported):
  /// stores manifest and config, unpacks the layers, and names it.
  func commitLocal(manifestBytes: [UInt8], configBytes: [UInt8], names: [ImageReference], pinned: Bool) async throws(CrispError) -> ImageRecord {
    try await leases.with { () async throws(CrispError) -> ImageRecord in
      let manifestDigest = Digest(sha256Hex: try self.content.write(manifestBytes))
      guard case .manifest(let manifest) = try ManifestParser.parse(manifestBytes, mediaType: nil, reference: manifestDigest.description) else {
        throw CrispError.invalidArgument("\(manifestDigest): expected an image manifest")
      }
      try self.content.write(configBytes, expectedSHA256: manifest.config.digest.hex)
      let imageConfig = try ManifestParser.parseConfig(configBytes, reference: manifestDigest.description)
      let reference = names.first ?? ImageReference(domain: "", path: "", tag: nil, digest: manifestDigest)
      let chain = try self.layerChain(manifest, imageConfig, reference: reference)
      for (index, layer) in manifest.layers.enumerated() {
        guard self.content.contains(sha256: layer.digest.hex) else {
          throw CrispError.invalidArgument("\(manifestDigest): layer \(layer.digest) is missing")
        }
        // layerChain checked that the config lists one diff ID per layer.
        guard index < imageConfig.rootfs.diffIDs.count, index < chain.count else {
          throw CrispError.invalidArgument("\(manifestDigest): layer \(layer.digest) has no diff_id in the image config")
        }
        try await self.unpackOnce(layer, diffID: imageConfig.rootfs.diffIDs[index], chainID: chain[index], parent: index > 0 ? chain[index - 1] : nil)
      }
      var references: [ImageReferenceRecord] = []
      for name in names {
        if let tagged = name.taggedName { references.append(.init(tagged, kind: .tag)) }
        references.append(.init(name.digestedName(name.digest ?? manifestDigest), kind: .digest))
      }
      let record = ImageRecord(
        id: "sha256:\(manifest.config.digest.hex)", manifestDigest: manifestDigest.description, chainID: chain.last ?? "",
        size: try manifest.totalSize(reference: manifestDigest.description),
        pinned: pinned || self.isPinned(references), config: configBytes, createdAt: Store.now(), references: references)
      try self.store.putImage(record)
      return try self.store.image(id: record.id) ?? record
    }
  }
}
