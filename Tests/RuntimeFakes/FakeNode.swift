public import Config
public import CrispCore
import Foundation
public import Images
import Logging
import PodNetwork
public import Runtime
public import Store

/// A RuntimeManager on fakes: its own temporary root and state directories, a real store, an image
/// manager over that store with two images recorded (the sandbox image and `busybox`), and a
/// ``FakeHost`` for everything that would touch the kernel. No root needed.
public final class FakeNode: Sendable {
  public let directory: String
  public let host: FakeHost
  public let store: Store
  public let manager: RuntimeManager
  public static let containerImage = "docker.io/library/busybox:latest"
  /// An image for image volumes (its view is ``FakeRootfs``'s small tree).
  public static let volumeImage = "docker.io/library/data:1"

  public init(appArmor: AppArmorHost = .off) throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-unit-\(UUID().uuidString.prefix(8))").path
    var config = CrispConfig()
    config.root = directory + "/root"
    config.state = directory + "/state"
    config.snapshotter = .native
    config.cni.confDir = directory + "/net.d"
    for path in [config.root, config.state, config.cni.confDir] { try FilePath.makeDirectories(path, mode: 0o700) }
    let logger = Logger(label: "crisp.unit") { _ in SwiftLogNoOpLogHandler() }
    store = try Store(path: config.root + "/crisp.db")
    let images = try ImageManager(config: config, store: store, logger: logger)
    host = FakeHost(handler: config.runtime.defaultHandler, appArmor: appArmor)
    let networks = PodNetworks(
      config: config.cni, watcher: CNIConfigWatcher(directory: config.cni.confDir, maxConfNum: 1, logger: logger), logger: logger)
    manager = RuntimeManager(
      config: config, store: store, images: images, cgroupDriver: .cgroupfs, networks: networks, codec: JSONRecordCodec(), host: host.services,
      runtimes: ([config.runtime.defaultHandler: host.runtime], [:]), logger: logger)
    try Self.recordImage(config.sandboxImage, digit: "1", command: ["/pause"], store: store)
    try Self.recordImage(Self.containerImage, digit: "2", command: ["sh"], store: store)
    try Self.recordImage(Self.volumeImage, digit: "3", command: ["true"], store: store)
  }

  /// An image record as a pull would leave it (the fakes stand in for its snapshot).
  static func recordImage(_ name: String, digit: Character, command: [String], store: Store) throws {
    let config =
      #"{"architecture":"amd64","os":"linux","config":{"Cmd":["\#(command.joined(separator: "\",\""))"]},"rootfs":{"type":"layers","diff_ids":[]}}"#
    let id = "sha256:" + String(repeating: digit, count: 64)
    try store.putImage(
      ImageRecord(
        id: id, manifestDigest: id, chainID: "sha256:" + String(repeating: "c", count: 63) + String(digit), size: 1024, pinned: false,
        config: Array(config.utf8), createdAt: 1, references: [.init(name, kind: .tag)]))
  }

  /// Where the manager keeps `id`'s bundle.
  public func bundle(_ id: String) -> String { directory + "/state/containers/" + id }

  /// Files and directories left under the manager's directories for `id` (bundle, sandbox files, shm).
  public func leftFiles(_ id: String) -> [String] {
    [bundle(id), directory + "/root/sandboxes/" + id, directory + "/state/sandboxes/" + id].filter { FileManager.default.fileExists(atPath: $0) }
  }

  deinit {
    store.close()
    try? FileManager.default.removeItem(atPath: directory)
  }
}
