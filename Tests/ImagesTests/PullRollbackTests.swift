import Config
import CrispCore
import Foundation
@testable import Images
import Logging
import OCI
import Registry
import Store
import Synchronization
import Testing

/// An image served from memory: a manifest, a config and two gzip-free tar layers whose entries belong to
/// the test's own user (so unpacking needs no root). Any fetch can be told to fail, or to send other bytes.
final class FakeImageSource: ImageSource {
  let manifest: [UInt8]
  let blobs: [String: [UInt8]]
  let config: Descriptor
  let layers: [Descriptor]
  private let failures = Mutex<[String: CrispError]>([:])
  private let corrupt = Mutex<Set<String>>([])
  private let fetched = Mutex<[String]>([])

  init(breakDiffIDOfLayer broken: Int? = nil) throws {
    var layerBlobs: [[UInt8]] = []
    for (index, name) in ["first", "second"].enumerated() {
      var tar = TarWriter()
      try tar.add(path: "layer\(index)", kind: .directory, mode: 0o755, uid: geteuid(), gid: getegid())
      try tar.add(path: "layer\(index)/\(name).txt", uid: geteuid(), gid: getegid(), content: Array("\(name)\n".utf8))
      try tar.finish()
      layerBlobs.append(tar.bytes)
    }
    let diffIDs = layerBlobs.enumerated().map { index, blob in
      "\"sha256:\(index == broken ? String(repeating: "0", count: 64) : SHA256Stream.hex(blob))\""
    }
    let configJSON = Array(
      #"{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[\#(diffIDs.joined(separator: ","))]}}"#
        .utf8)
    config = Descriptor(mediaType: MediaType.ociConfig, digest: Digest(sha256Hex: SHA256Stream.hex(configJSON)), size: Int64(configJSON.count))
    layers = layerBlobs.map { Descriptor(mediaType: MediaType.ociLayer, digest: Digest(sha256Hex: SHA256Stream.hex($0)), size: Int64($0.count)) }
    let document = ImageManifest(mediaType: MediaType.ociManifest, config: config, layers: layers)
    manifest = Array(try JSONEncoder().encode(document))
    var all: [String: [UInt8]] = [config.digest.hex: configJSON]
    for (descriptor, blob) in zip(layers, layerBlobs) { all[descriptor.digest.hex] = blob }
    blobs = all
  }

  /// The fetch named `manifest`, `config`, `layer0` or `layer1` throws `error`.
  func fail(_ name: String, with error: CrispError) { failures.withLock { $0[name] = error } }
  /// The fetch named `name` sends bytes that do not match its digest.
  func corrupt(_ name: String) { _ = corrupt.withLock { $0.insert(name) } }
  var fetches: [String] { fetched.withLock { $0 } }

  private func name(of digest: Digest) -> String {
    if digest == config.digest { return "config" }
    return layers.firstIndex { $0.digest == digest }.map { "layer\($0)" } ?? digest.description
  }

  private func check(_ name: String) throws(CrispError) {
    fetched.withLock { $0.append(name) }
    if let error = failures.withLock({ $0.removeValue(forKey: name) }) { throw error }
  }

  func fetchManifest(
    image: ImageReference, reference: String, endpoints: [RegistryEndpoint], credentials: RegistryCredentials?
  ) async throws(CrispError) -> FetchedManifest {
    try check("manifest")
    return FetchedManifest(bytes: manifest, mediaType: MediaType.ociManifest, reportedDigest: nil, endpoint: try .direct("https://fake.test"))
  }

  func fetchBlob(
    image: ImageReference, descriptor: Descriptor, endpoints: [RegistryEndpoint], credentials: RegistryCredentials?,
    into store: ContentStore, progress: @escaping @Sendable (Int64) -> Void
  ) async throws(CrispError) {
    let name = name(of: descriptor.digest)
    try check(name)
    guard var bytes = blobs[descriptor.digest.hex] else { throw CrispError.notFound("blob \(descriptor.digest) not in the fake") }
    if corrupt.withLock({ $0.contains(name) }), let last = bytes.indices.last { bytes[last] ^= 0xff }
    let writer = try store.beginIngest(expectedSHA256: descriptor.digest.hex, expectedSize: descriptor.size)
    try writer.append(bytes)
    _ = try writer.commit()
    progress(Int64(bytes.count))
  }
}

/// A pull failing at each fetch and at unpacking: the error reaches the caller, no image is recorded, what a
/// refused image stored is collected, and the same pull then succeeds.
@Suite struct PullRollbackTests {
  static let image = "registry.test/team/app:1"

  static func manager(_ source: FakeImageSource) throws -> (ImageManager, Store, String) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-pull-\(UUID().uuidString.prefix(8))").path
    var config = CrispConfig()
    config.root = directory + "/root"
    config.state = directory + "/state"
    config.snapshotter = .native
    config.registry.configPath = ""
    try FilePath.makeDirectories(config.root, mode: 0o700)
    let store = try Store(path: config.root + "/crisp.db")
    let images = try ImageManager(config: config, store: store, logger: Logger(label: "crisp.unit") { _ in SwiftLogNoOpLogHandler() }, source: source)
    return (images, store, directory)
  }

  /// Fetch → the error it fails with → whether the image is refused (what its pull stored is collected) or
  /// the failure transient (blobs kept for the retry) → how often the config is fetched by the failed pull
  /// and its retry together.
  static let cases: [(fetch: String, error: CrispError, refused: Bool, configFetches: Int)] = [
    ("manifest", CrispError(.unavailable, "registry.test: connection refused"), false, 1),
    ("config", CrispError(.unavailable, "registry.test: connection reset"), false, 2),
    ("layer0", CrispError(.deadlineExceeded, "registry.test: no bytes for 60s"), false, 1),
    ("layer1", CrispError(.notFound, "blob unknown to registry"), true, 2),
  ]

  @Test(arguments: 0..<4) func aFetchThatFailsFailsThePullAndARetrySucceeds(_ index: Int) async throws {
    let (fetch, error, _, configFetches) = Self.cases[index]
    let source = try FakeImageSource()
    let (images, store, directory) = try Self.manager(source)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    source.fail(fetch, with: error)
    let first = await Self.pull(images)
    #expect(first?.message == error.message)
    let retry = await Self.pull(images)
    #expect(retry == nil, "the failure was injected once: the retry must succeed")
    #expect(try images.resolve(Self.image) != nil)
    // The retry fetches again only what the failed pull did not keep.
    #expect(source.fetches.filter { $0 == "config" }.count == configFetches)
    store.close()
  }

  @Test func theFailingFetchsErrorReachesTheCallerAndNothingIsRecorded() async throws {
    for (fetch, error, refused, _) in Self.cases {
      let source = try FakeImageSource()
      let (images, store, directory) = try Self.manager(source)
      defer { try? FileManager.default.removeItem(atPath: directory) }
      source.fail(fetch, with: error)
      let thrown = await Self.pull(images)
      #expect(thrown?.code == error.code, "\(fetch)")
      #expect(thrown?.message == error.message, "\(fetch)")
      #expect(try images.resolve(Self.image) == nil)
      #expect(try store.allSnapshots().count <= 1)
      if refused {
        #expect(images.content.allBlobs().isEmpty, "\(fetch): a refused pull's blobs are collected")
        #expect(try store.allSnapshots().isEmpty, "\(fetch): a refused pull's snapshots are collected")
      }
      store.close()
    }
  }

  @Test func bytesThatDoNotMatchTheirDigestAreRefusedAndCollected() async throws {
    let source = try FakeImageSource()
    let (images, store, directory) = try Self.manager(source)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    source.corrupt("layer1")
    let thrown = await Self.pull(images)
    #expect(thrown?.code == .invalidArgument)
    #expect(thrown?.message.contains(source.layers[1].digest.hex) == true)
    #expect(try images.resolve(Self.image) == nil)
    #expect(images.content.allBlobs().isEmpty)
    #expect(try store.allSnapshots().isEmpty)
    store.close()
  }

  @Test func aLayerWhoseContentIsNotItsDiffIDIsRefusedAfterTheLayersBeforeIt() async throws {
    let source = try FakeImageSource(breakDiffIDOfLayer: 1)
    let (images, store, directory) = try Self.manager(source)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let thrown = await Self.pull(images)
    #expect(thrown?.code == .invalidArgument)
    #expect(thrown?.message.contains("diff_id") == true)
    #expect(try images.resolve(Self.image) == nil)
    // The first layer was unpacked before the second was refused; both go with the refused image.
    #expect(try store.allSnapshots().isEmpty)
    #expect(images.content.allBlobs().isEmpty)
    store.close()
  }

  /// The error pulling the test image fails with; nil when it succeeds.
  static func pull(_ images: ImageManager) async -> CrispError? {
    do throws(CrispError) {
      _ = try await images.pull(image, credentials: nil)
      return nil
    } catch {
      return error
    }
  }
}
