import Config
import CrispCore
import Foundation
import Images
import Logging
import Store
import Testing
import TestSupport

/// An image volume's view keeps a snapshot (with the native snapshotter, the image's merged copy): ImageFsInfo
/// counts it as image storage (accounted when the view is committed), never as a container's writable layer
/// (measured by the writable-layer walker). No root needed.
@Suite struct ImageViewUsageTests {
  static func fill(_ store: Store, _ snapshotter: Snapshotter, owner: String, bytes: Int, view: Bool) throws {
    let id = try store.createSnapshot(kind: .active, chainID: nil, parentID: nil, owner: owner)
    let directory = snapshotter.filesystem(of: id)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try Data(repeating: 7, count: bytes).write(to: URL(fileURLWithPath: directory + "/file"))
    if view {
      // As mountImageView commits a view: measured once, with its commit.
      let usage = DiskUsage.measure(snapshotter.directory(of: id))
      try store.commitSnapshot(id, measured: UsageTotals(bytes: usage.bytes, inodes: usage.inodes))
    } else {
      try store.commitSnapshot(id, size: 0)
    }
  }

  @Test func aViewIsImageStorageAndAWritableLayerIsContainerStorage() async throws {
    let root = try TestEnvironment.temporaryDirectory("crisp-viewusage")
    defer { try? FileManager.default.removeItem(atPath: root) }
    var config = CrispConfig()
    config.root = root + "/root"
    config.snapshotter = .native
    let store = try Store(path: root + "/crisp.db")
    let manager = try ImageManager(config: config, store: store, logger: Logger(label: "test"))
    try await withShutdown(manager, store) {
      let megabyte = 1 << 20
      let before = manager.filesystemUsage()
      try Self.fill(
        store, manager.snapshotter, owner: Snapshotter.imageViewOwner("sha256:" + String(repeating: "e", count: 64)), bytes: megabyte, view: true)
      await manager.measureWritableLayers()
      let withView = manager.filesystemUsage()
      #expect(withView.containerBytes == before.containerBytes)
      #expect(withView.imageBytes >= before.imageBytes + Int64(megabyte))
      try Self.fill(store, manager.snapshotter, owner: "container-1", bytes: megabyte, view: false)
      // Not measured yet: a writable layer counts from the walker's first measurement of it.
      #expect(manager.filesystemUsage().containerBytes == withView.containerBytes)
      await manager.measureWritableLayers()
      let withContainer = manager.filesystemUsage()
      #expect(manager.snapshotter.writableUsage.usage(owner: "container-1")?.usage.bytes ?? 0 >= Int64(megabyte))
      #expect(withContainer.containerBytes >= withView.containerBytes + Int64(megabyte))
      #expect(withContainer.imageBytes == withView.imageBytes)
    }
  }
}
