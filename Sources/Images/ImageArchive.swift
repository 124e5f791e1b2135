public import CrispCore
import Foundation
import Glibc
import Registry
public import Store
import OCI

/// Image archives for air-gapped nodes: import of docker-save and OCI image-layout tars, export of an OCI
/// layout that also carries a docker `manifest.json`, so `docker load`, `ctr import` and crisp all read it.
extension ImageManager {
  /// Imports every image in the tar at `path`. The archive is checked whole before anything is recorded:
  /// a malformed archive fails with what is wrong and imports nothing.
  public func importArchive(at path: String) async throws(CrispError) -> [ImageRecord] {
    do throws(CrispError) {
      return try await importArchiveHoldingLease(at: path)
    } catch {
      // Blobs the archive brought in belong to no image now.
      await collectAfterRefusal(error)
      throw error
    }
  }

  private func importArchiveHoldingLease(at path: String) async throws(CrispError) -> [ImageRecord] {
    try await leases.with { () async throws(CrispError) -> [ImageRecord] in
      let contents = try self.readArchive(path)
      let plans = try self.planImport(contents)
      guard !plans.isEmpty else { throw CrispError.invalidArgument("archive: it holds no image (no index.json or manifest.json)") }
      var imported: [ImageRecord] = []
      do throws(CrispError) {
        for plan in plans {
          imported.append(try await self.commitLocal(manifestBytes: plan.manifest, configBytes: plan.config, names: plan.names, pinned: false))
        }
      } catch {
        for record in imported { _ = try? self.store.removeImage(id: record.id) }
        throw error
      }
      self.logger.info("imported images", metadata: ["images": "\(imported.map(\.id))"])
      return imported
    }
  }

  /// What an archive holds: blobs moved into the content store by digest, small JSON files by path, and the
  /// digest of every other file by path (docker-save layers).
  struct ArchiveContents {
    var json: [String: [UInt8]] = [:]
    var digests: [String: String] = [:]
  }

  private func readArchive(_ path: String) throws(CrispError) -> ArchiveContents {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CrispError.from(SystemError.last("open", path)) }
    defer { close(fd) }
    var reader = TarReader(FileSource(fd: fd, path: path), name: "archive")
    defer { reader.close() }
    var contents = ArchiveContents()
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buffer.deallocate() }
    var jsonBytes: Int64 = 0
    while let entry = try reader.next() {
      guard entry.kind == .file else { continue }
      var name = entry.path
      while name.hasPrefix("./") { name.removeFirst(2) }
      let blobDigest = try Self.blobDigest(entry: name)
      if blobDigest == nil, name.hasSuffix(".json") || name == "oci-layout" || name == "repositories" {
        guard entry.size <= Int64(ManifestParser.maximumDocumentSize) else {
          throw CrispError.invalidArgument("archive: \(name) is \(entry.size) bytes, over the limit")
        }
        // Each is held in memory until the archive is read: their sum is bounded too.
        jsonBytes += entry.size
        guard jsonBytes <= Self.maximumJSONBytes else {
          throw CrispError.invalidArgument("archive: its JSON files add up to more than \(Self.maximumJSONBytes) bytes (at \(name))")
        }
        var bytes: [UInt8] = []
        while true {
          let n = try reader.readContent(into: buffer)
          if n == 0 { break }
          bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        contents.json[name] = bytes
        // OCI layouts name JSON blobs without an extension, docker-save names configs `<hex>.json`.
        contents.digests[name] = try content.write(bytes)
        continue
      }
      // A sha256 blob is verified against its name as it is stored. Others (sha512) are stored under their
      // sha256 like any file; manifests can only refer to sha256 digests.
      var expected: String?
      if let blobDigest, blobDigest.algorithm == "sha256" {
        expected = blobDigest.encoded
        if content.contains(sha256: blobDigest.encoded) {
          contents.digests[name] = blobDigest.encoded
          continue
        }
      }
      let writer = try content.beginIngest(expectedSHA256: expected, expectedSize: entry.size)
      do {
        while true {
          let n = try reader.readContent(into: buffer)
          if n == 0 { break }
          try writer.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        contents.digests[name] = try writer.commit()
      } catch {
        writer.abort()
        throw CrispError.invalidArgument("archive: \(name): \(error.message)")
      }
    }
    return contents
  }

  /// The JSON files of one archive (index, manifests, configs, docker-save's manifest.json) together.
  static let maximumJSONBytes: Int64 = 64 << 20

  /// The digest an OCI layout entry `blobs/<algorithm>/<encoded>` is named after; nil for an entry outside
  /// `blobs/`. An entry under `blobs/` whose name is not a well-formed sha256 or sha512 digest (`../x`, upper
  /// case, wrong length, another directory level) is refused: its name would otherwise become a path.
  static func blobDigest(entry name: String) throws(CrispError) -> (algorithm: String, encoded: String)? {
    let parts = name.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.first == "blobs" else { return nil }
    guard parts.count == 3, let algorithm = parts.dropFirst().first, let encoded = parts.last,
      Digest.isWellFormed(algorithm: String(algorithm), encoded: String(encoded))
    else {
      throw CrispError.invalidArgument(
        "archive: entry \"\(name.prefix(300))\" is not a blob name (blobs/sha256/<64 lowercase hex digits> or blobs/sha512/<128>)")
    }
    return (String(algorithm), String(encoded))
  }

  /// One image to record: its manifest and config bytes and names.
  struct ImportPlan {
    var manifest: [UInt8]
    var config: [UInt8]
    var names: [ImageReference]
  }

  private func planImport(_ contents: ArchiveContents) throws(CrispError) -> [ImportPlan] {
    if let index = contents.json["index.json"] {
      return try planOCI(index: index, contents)
    }
    if let manifest = contents.json["manifest.json"] {
      return try planDockerSave(manifest, contents)
    }
    return []
  }

  private func blob(_ digest: Digest) throws(CrispError) -> [UInt8] {
    guard let bytes = try content.read(sha256: digest.hex) else {
      throw CrispError.invalidArgument("archive: blob \(digest) is referenced but not in the archive")
    }
    return bytes
  }

  private func planOCI(index bytes: [UInt8], _ contents: ArchiveContents) throws(CrispError) -> [ImportPlan] {
    guard case .index(let index) = try ManifestParser.parse(bytes, mediaType: MediaType.ociIndex, reference: "archive index.json") else {
      throw CrispError.invalidArgument("archive: index.json is not an image index")
    }
    var plans: [ImportPlan] = []
    for descriptor in index.manifests {
      var names: [ImageReference] = []
      let annotations = descriptor.annotations ?? [:]
      for key in ["io.containerd.image.name", "org.opencontainers.image.ref.name"] {
        guard let name = annotations[key], name.contains("/") || name.contains("."), let reference = try? ImageReference(parsing: name) else {
          continue
        }
        if !names.contains(reference) { names.append(reference) }
      }
      var manifestBytes = try blob(descriptor.digest)
      switch try ManifestParser.parse(manifestBytes, mediaType: descriptor.mediaType, reference: "archive \(descriptor.digest)") {
      case .manifest:
        break
      case .index(let nested):
        let chosen = try ManifestParser.select(from: nested, platform: .host, reference: "archive \(descriptor.digest)")
        manifestBytes = try blob(chosen.digest)
      }
      guard case .manifest(let manifest) = try ManifestParser.parse(manifestBytes, mediaType: nil, reference: "archive \(descriptor.digest)") else {
        throw CrispError.invalidArgument("archive: \(descriptor.digest) is not an image manifest")
      }
      for layer in manifest.layers where !content.contains(sha256: layer.digest.hex) {
        throw CrispError.invalidArgument("archive: layer \(layer.digest) of \(descriptor.digest) is not in the archive")
      }
      plans.append(ImportPlan(manifest: manifestBytes, config: try blob(manifest.config.digest), names: names))
    }
    return plans
  }

  /// `docker save` / `skopeo copy docker-archive:` layout: manifest.json lists each image's config file,
  /// layer files (usually uncompressed tars) and tags. crisp writes an OCI manifest for them.
  private func planDockerSave(_ bytes: [UInt8], _ contents: ArchiveContents) throws(CrispError) -> [ImportPlan] {
    struct Entry: Decodable {
      var config: String
      var repoTags: [String]?
      var layers: [String]
      /// docker's manifest.json capitalises its keys.
      enum CodingKeys: String, CodingKey {
        case config = "Config", repoTags = "RepoTags", layers = "Layers"
      }
    }
    let entries: [Entry]
    do {
      entries = try JSONDecoder().decode([Entry].self, from: Data(bytes))
    } catch {
      throw CrispError.invalidArgument("archive: manifest.json is malformed: \(error)")
    }
    var plans: [ImportPlan] = []
    for entry in entries {
      guard let configHex = contents.digests[entry.config], let config = try content.read(sha256: configHex) else {
        throw CrispError.invalidArgument("archive: manifest.json names config \(entry.config), which is not in the archive")
      }
      var layers: [Descriptor] = []
      for path in entry.layers {
        guard let hex = contents.digests[path], let size = content.size(sha256: hex) else {
          throw CrispError.invalidArgument("archive: manifest.json names layer \(path), which is not in the archive")
        }
        layers.append(Descriptor(mediaType: try layerMediaType(hex), digest: Digest(sha256Hex: hex), size: size))
      }
      let manifest = ImageManifest(
        mediaType: MediaType.ociManifest,
        config: Descriptor(mediaType: MediaType.ociConfig, digest: Digest(sha256Hex: configHex), size: Int64(config.count)),
        layers: layers)
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
      let manifestBytes: [UInt8]
      do {
        manifestBytes = Array(try encoder.encode(manifest))
      } catch {
        throw CrispError.internalError("archive: encode manifest: \(error)")
      }
      var names: [ImageReference] = []
      for tag in entry.repoTags ?? [] {
        do {
          names.append(try ImageReference(parsing: tag))
        } catch {
          throw CrispError.invalidArgument("archive: manifest.json tag \"\(tag)\": \(error.message)")
        }
      }
      plans.append(ImportPlan(manifest: manifestBytes, config: config, names: names))
    }
    return plans
  }

  /// Layer files in docker archives are tars, sometimes compressed: look at the magic bytes.
  private func layerMediaType(_ hex: String) throws(CrispError) -> String {
    let fd = open(try content.path(sha256: hex), O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CrispError.from(SystemError.last("open", hex)) }
    defer { close(fd) }
    var magic = [UInt8](repeating: 0, count: 4)
    let n = magic.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4) }
    if n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b { return MediaType.ociLayerGzip }
    if n >= 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] { return MediaType.ociLayerZstd }
    return MediaType.ociLayer
  }

  /// Writes an archive of `references` (any reference form) to `path`: an OCI image layout whose index
  /// names each image, plus a docker `manifest.json`.
  public func exportArchive(_ references: [String], to path: String) throws(CrispError) {
    var images: [(ImageRecord, ImageManifest, [UInt8])] = []
    for text in references {
      guard let image = try resolve(text) else { throw CrispError.notFound("image \"\(text)\" not found") }
      let digest = try Digest(parsing: image.manifestDigest)
      let bytes = try blob(digest)
      guard case .manifest(let manifest) = try ManifestParser.parse(bytes, mediaType: nil, reference: image.manifestDigest) else {
        throw CrispError.internalError("image \(image.id): its manifest \(digest) is not a manifest")
      }
      images.append((image, manifest, bytes))
    }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw CrispError.from(SystemError.last("create", path)) }
    defer { close(fd) }
    var tar = TarWriter { chunk throws(CrispError) in
      let ok = chunk.withUnsafeBytes { raw -> Bool in
        var offset = 0
        while offset < raw.count {
          guard let base = raw.baseAddress else { return true }
          let n = write(fd, base + offset, raw.count - offset)
          if n <= 0 { return false }
          offset += n
        }
        return true
      }
      if !ok { throw CrispError.from(SystemError.last("write", path)) }
    }
    try tar.add(path: "oci-layout", content: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
    var indexEntries: [[String: Any]] = []
    var dockerEntries: [[String: Any]] = []
    var written: Set<String> = []
    for (image, manifest, manifestBytes) in images {
      for descriptor in [manifest.config] + manifest.layers {
        try addBlob(descriptor.digest.hex, to: &tar, written: &written)
      }
      let manifestHex = String(image.manifestDigest.dropFirst(7))
      if !written.contains(manifestHex) {
        try tar.add(path: "blobs/sha256/\(manifestHex)", content: manifestBytes)
        written.insert(manifestHex)
      }
      let names = image.repoTags.isEmpty ? image.repoDigests : image.repoTags
      for name in names.isEmpty ? [""] : names {
        var annotations: [String: String] = [:]
        if !name.isEmpty {
          annotations["io.containerd.image.name"] = name
          annotations["org.opencontainers.image.ref.name"] = name.split(separator: ":").last.map(String.init) ?? name
        }
        indexEntries.append([
          "mediaType": manifest.mediaType ?? MediaType.ociManifest, "digest": image.manifestDigest,
          "size": manifestBytes.count, "annotations": annotations,
        ])
      }
      dockerEntries.append([
        "Config": "blobs/sha256/\(manifest.config.digest.hex)", "RepoTags": image.repoTags,
        "Layers": manifest.layers.map { "blobs/sha256/\($0.digest.hex)" },
      ])
    }
    let index: [String: Any] = ["schemaVersion": 2, "mediaType": MediaType.ociIndex, "manifests": indexEntries]
    do {
      let options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
      try tar.add(path: "index.json", content: Array(try JSONSerialization.data(withJSONObject: index, options: options)))
      try tar.add(path: "manifest.json", content: Array(try JSONSerialization.data(withJSONObject: dockerEntries, options: options)))
    } catch let error as CrispError {
      throw error
    } catch {
      throw CrispError.internalError("archive: \(error)")
    }
    try tar.finish()
  }

  private func addBlob(_ hex: String, to tar: inout TarWriter, written: inout Set<String>) throws(CrispError) {
    guard !written.contains(hex) else { return }
    let path = try content.path(sha256: hex)
    guard let size = content.size(sha256: hex) else { throw CrispError.internalError("blob sha256:\(hex) is missing from the content store") }
    try tar.writeHeader(path: "blobs/sha256/\(hex)", kind: .file, mode: 0o644, size: size)
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CrispError.from(SystemError.last("open", path)) }
    defer { close(fd) }
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    var total: Int64 = 0
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 { throw CrispError.from(SystemError.last("read", path)) }
      if n == 0 { break }
      try tar.writeContent(Array(chunk[0..<n]))
      total += Int64(n)
    }
    guard total == size else { throw CrispError.internalError("blob sha256:\(hex) changed size while exporting") }
    try tar.padContent(size: size)
    written.insert(hex)
  }
}
