public import Config
public import CrispCore
import Foundation
import Glibc
import Synchronization
public import Logging
import Metrics
public import Registry
public import Store
import OCI
import Tracing

/// Images as kubelet sees them: pulled through the registry client, unpacked into snapshots, recorded in
/// the store, resolved by any reference form, removed, and garbage-collected.
public final class ImageManager: Sendable {
  public let store: Store
  public let content: ContentStore
  public let snapshotter: Snapshotter
  public let registry: RegistryClient
  /// Where pulls fetch from: the registry client, unless a test passes a fake.
  let imageSource: any ImageSource
  let config: CrispConfig
  /// `[registry]` as last applied (start-up, then each reload); each pull reads it once.
  private let registrySettings: Mutex<CrispConfig.Registry>
  let logger: Logger
  let leases = ContentLeases()
  private let pulls = Coalescer<ImageRecord>()
  private let blobs = Coalescer<Bool>()
  private let layers = Coalescer<Bool>()
  private let downloadSlots: DownloadSlots
  private let catalog: ImageCatalog
  /// Whether start-up's measuring of what a store from before usage accounting held is done.
  private let accountingComplete = Atomic<Bool>(false)
  /// The usage walkers started by ``start(pauseBinary:)``, cancelled by ``shutdown()``.
  private let background = Mutex<[Task<Void, Never>]>([])

  public init(config: CrispConfig, store: Store, logger: Logger, source: (any ImageSource)? = nil) throws(CrispError) {
    self.config = config
    registrySettings = Mutex(config.registry)
    self.store = store
    catalog = ImageCatalog(store: store)
    self.logger = logger
    content = try ContentStore(root: FilePath.join(config.root, "content"), ledger: store)
    let snapshotsRoot = FilePath.join(config.root, "snapshots")
    let (mode, reason) = Snapshotter.detect(root: config.root, configured: config.snapshotter)
    if config.snapshotter == .auto && mode == .native {
      logger.warning("using the native snapshotter (a full copy per container)", metadata: ["reason": "\(reason)"])
    } else {
      logger.info("snapshotter", metadata: ["mode": "\(mode.rawValue)", "reason": "\(reason)"])
    }
    snapshotter = try Snapshotter(root: snapshotsRoot, mode: mode, store: store, logger: logger)
    registry = RegistryClient(readTimeout: config.imagePullProgressTimeout, logger: logger)
    imageSource = source ?? registry
    registry.setConfiguredCredentials(config.registry)
    downloadSlots = DownloadSlots(limit: config.maxConcurrentDownloads)
  }

  /// Start-up: drops what a killed daemon left half done, builds the pause image, collects garbage.
  public func start(pauseBinary: String?) async throws(CrispError) {
    let ingests = content.removeStaleIngests()
    if ingests > 0 { logger.info("removed partial downloads", metadata: ["count": "\(ingests)"]) }
    try snapshotter.removeIncomplete()
    if config.sandboxImage == CrispConfig.builtinSandboxImage {
      if let pauseBinary {
        _ = try await PauseImage.ensure(name: config.sandboxImage, binary: pauseBinary, manager: self)
      } else {
        logger.warning("the pause program (crisp-pause) was not found next to crisp; pods need sandbox_image to be pullable")
      }
    }
    try await garbageCollect()
    startUsageAccounting()
  }

  /// Runs `body` while garbage collection is held off: for container creation, between resolving an image
  /// and its snapshot being referenced by the container's own.
  public func withLease<T: Sendable>(_ body: @Sendable () async throws(CrispError) -> T) async throws(CrispError) -> T {
    try await leases.with(body)
  }

  /// Where image archives being imported or exported are spooled (`<root>/tmp`): they can be far larger
  /// than memory.
  public var spoolDirectory: String { FilePath.join(config.root, "tmp") }

  /// Takes new `[registry]` settings (mirrors, hosts.toml directories, credentials, TLS) and a new
  /// `image_pull_progress_timeout` for the pulls that start from now (a configuration reload).
  public func applyRegistry(_ registry: CrispConfig.Registry) {
    registrySettings.withLock { $0 = registry }
    self.registry.setConfiguredCredentials(registry)
  }

  /// Takes a new `image_pull_progress_timeout` for the pulls that start from now.
  public func applyPullProgressTimeout(_ timeout: TimeSpan) {
    registry.setReadTimeout(timeout)
  }

  public func shutdown() async {
    let tasks = background.withLock { tasks in
      defer { tasks.removeAll() }
      return tasks
    }
    for task in tasks { task.cancel() }
    for task in tasks { await task.value }
    await registry.shutdown()
  }

  // MARK: Resolution

  /// The image a reference names, in any of the forms kubelet and crictl use: an id (`sha256:…`, bare hex,
  /// or a unique prefix of at least 12 hex digits), a name with tag or digest, a short name (`busybox`).
  /// Nil when there is none.
  public func resolve(_ text: String) throws(CrispError) -> ImageRecord? {
    let trimmed = text.trimmingSpaces
    guard !trimmed.isEmpty else { throw CrispError.invalidArgument("image reference is empty") }
    let images = try catalog.current()
    if let id = Self.imageID(from: trimmed) { return images.image(id: id) }
    if trimmed.count >= 12, trimmed.count < 64, trimmed.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) {
      let matches = images.images(idPrefix: "sha256:" + trimmed)
      if matches.count == 1, let only = matches.first { return only }
    }
    let reference = try ImageReference(parsing: trimmed)
    let key = reference.digest.map { reference.digestedName($0) } ?? reference.taggedName ?? reference.description
    return images.image(reference: key)
  }

  /// `sha256:<hex>` or a bare 64-digit hex id, normalised; nil for anything else.
  static func imageID(from text: String) -> String? {
    let hex = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
    guard hex.utf8.count == 64, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
    return "sha256:" + hex
  }

  public func list() throws(CrispError) -> [ImageRecord] { try catalog.current().records }

  // MARK: Pull

  /// Pulls `text` through the configured mirrors, unpacks it, and records it. Concurrent pulls of the same
  /// reference share one pull (progress then goes to the caller that started it). `progress` is called as
  /// layers arrive.
  public func pull(
    _ text: String, credentials: RegistryCredentials?, progress: (@Sendable (PullProgress) -> Void)? = nil
  ) async throws(CrispError) -> ImageRecord {
    let reference = try ImageReference(parsing: text)
    let start = ContinuousClock.now
    defer { Metrics.Timer(label: "crisp_image_pull_duration_seconds").recordNanoseconds((ContinuousClock.now - start).totalNanoseconds) }
    let tracker = PullProgressTracker(report: progress)
    do throws(CrispError) {
      return try await pulls.run("pull \(reference)") {
        try await self.leases.with { () async throws(CrispError) -> ImageRecord in
          try await self.pullOnce(reference, credentials: credentials, tracker: tracker)
        }
      }
    } catch {
      await collectAfterRefusal(error)
      throw error
    }
  }

  /// After an image was refused for what it holds (a malformed manifest, a hostile layer), what its pull
  /// stored (manifests, blobs, the snapshots of the layers before the bad one) can never become an image:
  /// it is collected now rather than at the next removal or restart, so retries of a bad image cannot fill
  /// the disk. Only when no other pull or creation holds a lease; otherwise the next collection gets it.
  /// Transient failures (unavailable, timeouts, cancellation) keep the blobs for the retry.
  func collectAfterRefusal(_ error: CrispError) async {
    guard [.invalidArgument, .failedPrecondition, .notFound].contains(error.code) else { return }
    do throws(CrispError) {
      let counts = try await leases.ifIdle { () throws(CrispError) -> (Int, Int) in try collect() }
      if let (blobCount, snapshotCount) = counts, blobCount + snapshotCount > 0 {
        logger.info("collected what a refused image left", metadata: ["blobs": "\(blobCount)", "snapshots": "\(snapshotCount)"])
      }
    } catch {
      logger.warning("garbage collection after a refused image failed", metadata: ["error": "\(error.message)"])
    }
  }

  private func pullOnce(_ reference: ImageReference, credentials: RegistryCredentials?, tracker: PullProgressTracker) async throws(CrispError)
    -> ImageRecord
  {
    let started = ContinuousClock.now
    let source = PullSource(
      reference: reference, endpoints: try HostResolver(registry: registrySettings.withLock { $0 }).endpoints(for: reference.domain),
      credentials: credentials)
    let (manifest, manifestDigest, topDigest) = try await resolveManifest(source)
    try checkMediaTypes(manifest, reference: reference)
    // Before any progress is reported or byte fetched: the declared sizes must add up.
    let imageSize = try manifest.totalSize(reference: "pull \(reference)")
    let blobs = [manifest.config] + manifest.layers
    tracker.start(layers: manifest.layers.count, blobs: blobs.map { ($0.digest.hex, $0.size) })
    for blob in blobs where content.contains(sha256: blob.digest.hex) { tracker.blobDone(blob.digest.hex) }
    let (configBytes, imageConfig) = try await fetchConfig(manifest, from: source, tracker: tracker)
    let chainIDs = try layerChain(manifest, imageConfig, reference: reference)
    try await fetchAndUnpackLayers(manifest, imageConfig: imageConfig, chainIDs: chainIDs, from: source, tracker: tracker)

    var references = [ImageReferenceRecord(reference.digestedName(reference.digest ?? topDigest), kind: .digest)]
    if let tagged = reference.taggedName { references.append(.init(tagged, kind: .tag)) }
    let record = ImageRecord(
      id: "sha256:\(manifest.config.digest.hex)", manifestDigest: manifestDigest.description,
      chainID: chainIDs.last ?? "", size: imageSize,
      pinned: isPinned(references), config: configBytes, createdAt: Store.now(), references: references)
    try store.putImage(record)
    let took = ContinuousClock.now - started
    logger.info(
      "pulled image",
      metadata: [
        "image": "\(reference)", "id": "\(record.id)", "layers": "\(manifest.layers.count)",
        "duration_ms": "\(took.totalNanoseconds / 1_000_000)",
      ])
    return try store.image(id: record.id) ?? record
  }

  /// Where one pull fetches from: the image, the endpoints (mirrors first) and the caller's credentials.
  private struct PullSource: Sendable {
    var reference: ImageReference
    var endpoints: [RegistryEndpoint]
    var credentials: RegistryCredentials?
  }

  /// The image manifest for this node's platform (through the index when the reference names one), its
  /// digest, and the digest of what the reference itself named; both documents are kept in the content store.
  private func resolveManifest(_ source: PullSource) async throws(CrispError) -> (ImageManifest, manifestDigest: Digest, topDigest: Digest) {
    let reference = source.reference
    let top = try await imageSource.fetchManifest(
      image: reference, reference: reference.manifestReference, endpoints: source.endpoints, credentials: source.credentials)
    let topDigest = Digest(sha256Hex: SHA256Stream.hex(top.bytes))
    if let expected = reference.digest, expected != topDigest {
      throw CrispError.invalidArgument("pull \(reference): \(top.endpoint) sent a manifest with digest \(topDigest), not the requested \(expected)")
    }
    try content.write(top.bytes, expectedSHA256: topDigest.hex)
    switch try ManifestParser.parse(top.bytes, mediaType: top.mediaType, reference: reference.description) {
    case .manifest(let manifest):
      return (manifest, topDigest, topDigest)
    case .index(let index):
      let chosen = try ManifestParser.select(from: index, platform: .host, reference: reference.description)
      let bytes: [UInt8]
      if let stored = try content.read(sha256: chosen.digest.hex) {
        bytes = stored
      } else {
        let fetched = try await imageSource.fetchManifest(
          image: reference, reference: chosen.digest.description, endpoints: source.endpoints, credentials: source.credentials)
        try content.write(fetched.bytes, expectedSHA256: chosen.digest.hex)
        bytes = fetched.bytes
      }
      guard case .manifest(let manifest) = try ManifestParser.parse(bytes, mediaType: chosen.mediaType, reference: "\(reference)@\(chosen.digest)")
      else {
        throw CrispError.invalidArgument("pull \(reference): the index entry for \(Platform.host) is itself an index")
      }
      return (manifest, chosen.digest, topDigest)
    }
  }

  /// The image config, fetched unless the content store has it, and parsed.
  private func fetchConfig(
    _ manifest: ImageManifest, from source: PullSource, tracker: PullProgressTracker
  ) async throws(CrispError) -> ([UInt8], ImageConfig) {
    let reference = source.reference
    if !content.contains(sha256: manifest.config.digest.hex) {
      try await fetchBlobOnce(reference, manifest.config, endpoints: source.endpoints, credentials: source.credentials, tracker: tracker)
      tracker.blobDone(manifest.config.digest.hex)
    }
    guard let configBytes = try content.read(sha256: manifest.config.digest.hex) else {
      throw CrispError.internalError("pull \(reference): config blob vanished from the content store")
    }
    return (configBytes, try ManifestParser.parseConfig(configBytes, reference: reference.description))
  }

  /// Downloads every missing layer (bounded concurrency) while unpacking them in order as each arrives.
  /// Layers already unpacked are on the node, whether or not their blob still is.
  private func fetchAndUnpackLayers(
    _ manifest: ImageManifest, imageConfig: ImageConfig, chainIDs: [String], from source: PullSource, tracker: PullProgressTracker
  ) async throws(CrispError) {
    let reference = source.reference
    var firstMissing = chainIDs.count
    for (index, chainID) in chainIDs.enumerated() where try snapshotter.layer(chainID: chainID) == nil {
      firstMissing = index
      break
    }
    for (index, layer) in manifest.layers.prefix(firstMissing).enumerated() {
      tracker.blobDone(layer.digest.hex)
      tracker.layerDone(index)
    }
    var downloads: [Int: Task<Void, any Error>] = [:]
    for index in firstMissing..<manifest.layers.count {
      let descriptor = manifest.layers[index]
      // The task inherits the call's trace context: its span is a child of the pull's.
      downloads[index] = Task {
        if self.content.contains(sha256: descriptor.digest.hex) { return }
        try await withChildSpan("image.layer.fetch", attributes: Self.attributes(of: descriptor, index: index)) {
          () async throws(CrispError) in
          try await CrispError.catching {
            try await self.downloadSlots.with {
              try await self.fetchBlobOnce(reference, descriptor, endpoints: source.endpoints, credentials: source.credentials, tracker: tracker)
            }
          }
        }
        tracker.blobDone(descriptor.digest.hex)
      }
    }
    defer { for task in downloads.values { task.cancel() } }
    for index in firstMissing..<manifest.layers.count {
      if let download = downloads[index] {
        try await CrispError.catching { try await download.value }
      }
      // layerChain checked that the config lists one diff ID per layer.
      guard index < imageConfig.rootfs.diffIDs.count, index < chainIDs.count else {
        throw CrispError.invalidArgument("pull \(reference): layer \(manifest.layers[index].digest) has no diff_id in the image config")
      }
      let diffID = imageConfig.rootfs.diffIDs[index]
      try await withChildSpan(
        "image.layer.unpack", attributes: Self.attributes(of: manifest.layers[index], index: index, diffID: diffID)
      ) { () async throws(CrispError) in
        try await unpackOnce(manifest.layers[index], diffID: diffID, chainID: chainIDs[index], parent: index > 0 ? chainIDs[index - 1] : nil)
      }
      tracker.blobDone(manifest.layers[index].digest.hex)
      tracker.layerDone(index)
    }
  }

  /// A layer's span attributes. The fetch span covers the download and the check of the blob's sha256
  /// against the manifest (made on the bytes as they stream into the content store); the unpack span covers
  /// extraction and the check of the uncompressed digest against the config's diff_id (also made as the
  /// bytes stream), so each verification is inside the span of the step that reads those bytes.
  static func attributes(of layer: Descriptor, index: Int, diffID: Digest? = nil) -> SpanAttributes {
    var attributes: SpanAttributes = [
      "oci.layer.index": .int64(Int64(clamping: index)), "oci.layer.digest": .string(layer.digest.description),
      "oci.layer.media_type": .string(layer.mediaType), "oci.layer.size": .int64(layer.size),
    ]
    if let diffID { attributes["oci.layer.diff_id"] = diffID.description }
    return attributes
  }

  private func checkMediaTypes(_ manifest: ImageManifest, reference: ImageReference) throws(CrispError) {
    let configType = manifest.config.mediaType
    guard configType == MediaType.ociConfig || configType == MediaType.dockerConfig else {
      throw CrispError.invalidArgument("pull \(reference): unsupported config media type \"\(configType)\" (not a container image?)")
    }
    for layer in manifest.layers where MediaType.layerCompression(layer.mediaType) == nil {
      throw CrispError.invalidArgument("pull \(reference): unsupported layer media type \"\(layer.mediaType)\" (\(layer.digest))")
    }
  }

  /// Chain ids for each layer: the first layer's diff id, then sha256("<parent chain> <diff id>").
  func layerChain(_ manifest: ImageManifest, _ imageConfig: ImageConfig, reference: ImageReference) throws(CrispError) -> [String] {
    let diffIDs = imageConfig.rootfs.diffIDs
    guard diffIDs.count == manifest.layers.count else {
      throw CrispError.invalidArgument(
        "pull \(reference): the manifest has \(manifest.layers.count) layers but the config lists \(diffIDs.count) diff_ids")
    }
    var chain: [String] = []
    for diffID in diffIDs {
      if let parent = chain.last {
        chain.append("sha256:" + SHA256Stream.hex(Array("\(parent) \(diffID)".utf8)))
      } else {
        chain.append(diffID.description)
      }
    }
    return chain
  }

  private func fetchBlobOnce(
    _ reference: ImageReference, _ descriptor: Descriptor, endpoints: [RegistryEndpoint], credentials: RegistryCredentials?,
    tracker: PullProgressTracker
  ) async throws(CrispError) {
    let digest = descriptor.digest.hex
    _ = try await blobs.run("blob \(descriptor.digest)") {
      if self.content.contains(sha256: descriptor.digest.hex) { return true }
      try await self.imageSource.fetchBlob(
        image: reference, descriptor: descriptor, endpoints: endpoints, credentials: credentials, into: self.content,
        progress: { tracker.received(digest, bytes: $0) })
      // Bytes that came over the network (blobs already held are not counted).
      Counter(label: "crisp_image_pull_bytes_total").increment(by: Int64(clamping: descriptor.size))
      return true
    }
    // Called only for blobs the content store lacked: whether this pull or a concurrent one fetched it, the
    // image was not all on the node when this pull began.
    tracker.fetched(descriptor.size)
  }

  /// Unpacks one layer blob into the snapshot for `chainID`, checking its uncompressed digest.
  func unpackOnce(_ descriptor: Descriptor, diffID: Digest, chainID: String, parent: String?) async throws(CrispError) {
    _ = try await layers.run("layer \(chainID)") {
      if try self.snapshotter.layer(chainID: chainID) != nil { return true }
      try self.unpack(descriptor, diffID: diffID, chainID: chainID, parent: parent)
      return true
    }
  }

  private func unpack(_ descriptor: Descriptor, diffID: Digest, chainID: String, parent: String?) throws(CrispError) {
    guard let compression = MediaType.layerCompression(descriptor.mediaType) else {
      throw CrispError.invalidArgument("layer \(descriptor.digest): unsupported media type \"\(descriptor.mediaType)\"")
    }
    let path = try content.path(sha256: descriptor.digest.hex)
    let name = "layer \(descriptor.digest)"
    let whiteouts: LayerExtraction.Whiteouts = snapshotter.whiteoutStyle == .overlay ? .overlay : .markers
    _ = try snapshotter.createLayer(chainID: chainID, parentChainID: parent) { directory throws(CrispError) in
      let actual = try LayerExtraction.extract(blob: path, compression: compression, into: directory, whiteouts: whiteouts, name: name)
      guard actual == diffID else {
        throw CrispError.invalidArgument("\(name): uncompressed content has digest \(actual), but the image config's diff_id is \(diffID)")
      }
    }
  }

  /// Whether any of these references is the sandbox image or one of `pinned_images`.
  func isPinned(_ references: [ImageReferenceRecord]) -> Bool {
    var pinned: Set<String> = []
    for name in [config.sandboxImage] + config.pinnedImages {
      guard let reference = try? ImageReference(parsing: name) else { continue }
      pinned.insert(reference.digest.map { reference.digestedName($0) } ?? reference.taggedName ?? reference.description)
    }
    return references.contains { pinned.contains($0.reference) }
  }

  // MARK: Removal and garbage collection

  /// Removes the image `text` names, with every tag and digest naming it (also under other registry
  /// names: they share the image id). Removing an image that does not exist succeeds.
  ///
  /// `check` runs first, while no pull or container creation holds a lease (a creation writes its record
  /// inside its lease): it throws to refuse the removal, e.g. for an image a container uses.
  public func remove(_ text: String, check: @Sendable (ImageRecord) throws(CrispError) -> Void = { _ in }) async throws(CrispError) {
    let removed = try await leases.exclusively { () throws(CrispError) -> ImageRecord? in
      guard let image = try resolve(text) else { return nil }
      try check(image)
      try store.removeImage(id: image.id)
      return image
    }
    guard let image = removed else { return }
    logger.info("removed image", metadata: ["id": "\(image.id)", "references": "\(image.references.map(\.reference))"])
    try await garbageCollect()
  }

  /// Deletes blobs and layer snapshots that no image and no container uses. Runs only while nothing is
  /// pulling or creating (``ContentLeases``).
  public func garbageCollect() async throws(CrispError) {
    let (blobCount, snapshotCount) = try await leases.exclusively { () throws(CrispError) -> (Int, Int) in
      try collect()
    }
    if blobCount + snapshotCount > 0 {
      logger.info("garbage collected", metadata: ["blobs": "\(blobCount)", "snapshots": "\(snapshotCount)"])
    }
  }

  private func collect() throws(CrispError) -> (Int, Int) {
    let images = try store.allImages()
    var keepBlobs: Set<String> = []
    var keepChains: Set<String> = []
    for image in images {
      keepBlobs.insert(String(image.id.dropFirst(7)))
      for digest in [image.manifestDigest] + image.repoDigests.compactMap({ $0.split(separator: "@").last.map(String.init) }) {
        guard digest.hasPrefix("sha256:") else { continue }
        let hex = String(digest.dropFirst(7))
        guard ContentStore.isSHA256Hex(hex) else { continue }
        keepBlobs.insert(hex)
        guard let bytes = try content.read(sha256: hex) else { continue }
        switch try? ManifestParser.parse(bytes, mediaType: nil, reference: digest) {
        case .manifest(let manifest):
          keepBlobs.insert(manifest.config.digest.hex)
          for layer in manifest.layers { keepBlobs.insert(layer.digest.hex) }
        case .index(let index):
          for entry in index.manifests where entry.digest.description == image.manifestDigest { keepBlobs.insert(entry.digest.hex) }
        case nil:
          break
        }
      }
      if !image.chainID.isEmpty { keepChains.insert(image.chainID) }
    }
    let snapshots = try store.allSnapshots()
    let byID = Dictionary(uniqueKeysWithValues: snapshots.map { ($0.id, $0) })
    var keepIDs: Set<Int64> = []
    func keepChain(from id: Int64?) {
      var current = id
      while let id = current, !keepIDs.contains(id), let record = byID[id] {
        keepIDs.insert(id)
        current = record.parentID
      }
    }
    for record in snapshots {
      if record.kind == .active { keepChain(from: record.id) }
      if let chain = record.chainID, keepChains.contains(chain) { keepChain(from: record.id) }
    }
    var removedSnapshots = 0
    // Children before parents: highest ids were created last.
    for record in snapshots.reversed() where !keepIDs.contains(record.id) && record.state == .committed {
      try snapshotter.discard(record.id)
      removedSnapshots += 1
    }
    var removedBlobs = 0
    for hex in content.allBlobs() where !keepBlobs.contains(hex) {
      try content.delete(sha256: hex)
      removedBlobs += 1
    }
    return (removedBlobs, removedSnapshots)
  }

  // MARK: Usage

  /// Bytes and inodes used by images (content, layers, and the views image volumes keep) and by containers'
  /// writable layers, without touching the disk beyond four `lstat`s: image usage is the accounting the
  /// store keeps with its records, writable layers' is the background walker's last measurement.
  ///
  /// On a store from before usage accounting, start-up measures what it holds in the background; until that
  /// is done (`complete` false) the image numbers are a lower bound that grows as it goes.
  public func filesystemUsage() -> FilesystemUsage {
    let now = Store.now()
    let images = store.accountedUsage.total + content.directoryUsage()
    let (containers, measuredAt) = snapshotter.writableUsage.total()
    return FilesystemUsage(
      mountpoint: snapshotter.root, imageBytes: images.bytes, imageInodes: images.inodes,
      containerBytes: containers.bytes, containerInodes: containers.inodes, timestamp: now,
      containerTimestamp: measuredAt ?? now, complete: accountingComplete.load(ordering: .acquiring))
  }

  /// Starts the background usage work: measuring what a store from before accounting holds (once), and the
  /// writable-layer walker (until shutdown).
  func startUsageAccounting() {
    let backfill = Task(priority: .background) { await self.completeAccounting() }
    let walker = Task(priority: .background) {
      await self.snapshotter.writableUsage.run(layers: { () throws(CrispError) in try self.writableLayers() }, logger: self.logger)
    }
    background.withLock { $0 += [backfill, walker] }
  }

  /// Measures every writable layer once now, without pausing (tests; the daemon's walker spreads its passes).
  public func measureWritableLayers() async {
    do {
      await snapshotter.writableUsage.pass(try writableLayers(), pause: { _ in .zero }, logger: logger)
    } catch {
      logger.warning("cannot list writable layers to measure", metadata: ["error": "\(error.message)"])
    }
  }

  /// Containers' writable layers now (image views are image storage, accounted when made).
  func writableLayers() throws(CrispError) -> [WritableLayerMeter.Layer] {
    try store.unmeasuredSnapshots().compactMap { record in
      guard record.kind == .active, let owner = record.owner, !owner.hasPrefix(Snapshotter.imageViewOwnerPrefix) else { return nil }
      return WritableLayerMeter.Layer(owner: owner, directory: snapshotter.filesystem(of: record.id))
    }
  }

  /// Records the usage of blobs and image snapshots that have none (a store from before accounting, or a
  /// daemon killed between a blob's rename and its record): one bounded walk per snapshot, one `lstat` per
  /// blob, in the background, with garbage collection held off only while the blobs are compared. On a
  /// store whose accounting is whole this reads one directory listing and measures nothing.
  func completeAccounting() async {
    let started = ContinuousClock.now
    var blobs = (added: 0, dropped: 0)
    var snapshots = 0
    do throws(CrispError) {
      blobs = try await leases.with { () throws(CrispError) in try self.content.reconcileUsage() }
      for record in try store.unmeasuredSnapshots() {
        if Task.isCancelled { return }
        let isView = record.owner?.hasPrefix(Snapshotter.imageViewOwnerPrefix) ?? false
        guard record.kind == .layer || isView else { continue }
        let directory = snapshotter.directory(of: record.id)
        let usage = await withCheckedContinuation { continuation in
          DispatchQueue.global(qos: .utility).async { continuation.resume(returning: DiskUsage.measure(directory)) }
        }
        if let failure = usage.failure {
          logger.warning("snapshot only partly measured", metadata: ["snapshot": "\(record.id)", "reason": "\(failure)"])
        }
        if try store.recordSnapshotUsage(record.id, UsageTotals(bytes: usage.bytes, inodes: usage.inodes)) { snapshots += 1 }
        await Task.yield()
      }
    } catch {
      logger.warning("usage accounting could not measure the store; image usage stays a lower bound", metadata: ["error": "\(error.message)"])
      return
    }
    accountingComplete.store(true, ordering: .releasing)
    if blobs.added + blobs.dropped + snapshots > 0 {
      let took = ContinuousClock.now - started
      logger.info(
        "usage accounting completed",
        metadata: [
          "blobs_measured": "\(blobs.added)", "blob_records_dropped": "\(blobs.dropped)", "snapshots_measured": "\(snapshots)",
          "duration_ms": "\(took.totalNanoseconds / 1_000_000)",
        ])
    }
  }
}

public struct FilesystemUsage: Sendable {
  public var mountpoint: String
  public var imageBytes: Int64
  public var imageInodes: Int64
  public var containerBytes: Int64
  public var containerInodes: Int64
  /// When the image numbers were read (they are current).
  public var timestamp: Int64
  /// The oldest writable-layer measurement in the container numbers (now when there is none).
  public var containerTimestamp: Int64
  /// False while start-up still measures a store from before usage accounting (image numbers too low).
  public var complete: Bool
}

/// Bounds concurrent layer downloads (`max_concurrent_downloads`) across all pulls.
actor DownloadSlots {
  private let limit: Int
  private var used = 0
  private var waiters: [CheckedContinuation<Void, Never>] = []

  init(limit: Int) { self.limit = max(1, limit) }

  func with<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
    while used >= limit { await withCheckedContinuation { waiters.append($0) } }
    used += 1
    defer {
      used -= 1
      if !waiters.isEmpty { waiters.removeFirst().resume() }
    }
    return try await body()
  }
}

/// Where a pull stands, for progress displays.
public struct PullProgress: Sendable, Equatable {
  public var layersTotal: Int = 0
  public var layersDone: Int = 0
  /// Compressed bytes of the config and layers; done counts what is on the node (fetched or already held).
  public var bytesTotal: Int64 = 0
  public var bytesDone: Int64 = 0
  /// Compressed bytes of the blobs this pull downloaded (or waited for another pull to download); 0 when
  /// everything was already on the node.
  public var bytesFetched: Int64 = 0

  public init() {}
}

/// Adds up a pull's per-blob byte counts (each distinct blob once) and its layers on the node (each
/// manifest position once, so a layer listed twice still ends at N of N), and hands each new total on.
final class PullProgressTracker: Sendable {
  private struct State {
    var progress = PullProgress()
    var perBlob: [String: Int64] = [:]
    var sizes: [String: Int64] = [:]
    var blobsDone: Set<String> = []
    var layersDone: Set<Int> = []
  }
  private let state = Mutex(State())
  private let report: (@Sendable (PullProgress) -> Void)?

  init(report: (@Sendable (PullProgress) -> Void)?) { self.report = report }

  func start(layers: Int, blobs: [(String, Int64)]) {
    publish { state in
      state.progress.layersTotal = layers
      for (digest, size) in blobs where state.sizes[digest] == nil {
        state.sizes[digest] = max(0, size)
        state.progress.bytesTotal = Self.adding(state.progress.bytesTotal, max(0, size))
      }
    }
  }

  func received(_ digest: String, bytes: Int64) {
    publish { state in
      let before = state.perBlob[digest] ?? 0
      guard !state.blobsDone.contains(digest), bytes > before else { return }
      state.perBlob[digest] = bytes
      state.progress.bytesDone = Self.adding(state.progress.bytesDone, bytes - before)
    }
  }

  /// Progress is for display: a sum past Int64.max (declared sizes are validated long before) stays there.
  static func adding(_ a: Int64, _ b: Int64) -> Int64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? (b < 0 ? Int64.min : Int64.max) : sum
  }

  func blobDone(_ digest: String) {
    publish { state in
      guard state.blobsDone.insert(digest).inserted else { return }
      let size = state.sizes[digest] ?? 0
      // perBlob never exceeds the declared size (the ingest refuses more), so this is not negative.
      state.progress.bytesDone = Self.adding(state.progress.bytesDone, size - min(size, state.perBlob[digest] ?? 0))
      state.perBlob[digest] = size
    }
  }

  /// A blob that was not on the node has been downloaded for this pull.
  func fetched(_ size: Int64) {
    publish { state in state.progress.bytesFetched = Self.adding(state.progress.bytesFetched, max(0, size)) }
  }

  func layerDone(_ index: Int) {
    publish { state in
      if state.layersDone.insert(index).inserted { state.progress.layersDone += 1 }
    }
  }

  private func publish(_ change: (inout State) -> Void) {
    guard let report else { return }
    let snapshot = state.withLock { state -> PullProgress in
      change(&state)
      return state.progress
    }
    report(snapshot)
  }
}
