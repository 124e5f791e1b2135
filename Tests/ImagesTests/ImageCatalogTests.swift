import CrispCore
import Foundation
@testable import Images
import Store
import TestSupport
import Testing

/// The in-memory image index answers exactly what the store holds after every write, by id, id prefix and
/// reference, without reading the store again while nothing was written.
@Suite struct ImageCatalogTests {
  static func record(_ hex: Character, references: [ImageReferenceRecord], createdAt: Int64) -> ImageRecord {
    ImageRecord(
      id: "sha256:" + String(repeating: hex, count: 64), manifestDigest: "sha256:" + String(repeating: "f", count: 64),
      chainID: "sha256:" + String(repeating: "c", count: 64), size: 10, pinned: false, config: Array("{}".utf8), createdAt: createdAt,
      references: references)
  }

  @Test func followsEveryWriteAndKeepsItsSnapshotOtherwise() throws {
    let root = try TestEnvironment.temporaryDirectory("crisp-catalog")
    defer { try? FileManager.default.removeItem(atPath: root) }
    let store = try Store(path: root + "/crisp.db")
    let catalog = ImageCatalog(store: store)
    #expect(try catalog.current().records.isEmpty)

    let first = Self.record("a", references: [.init("docker.io/library/busybox:1", kind: .tag)], createdAt: 1)
    try store.putImage(first)
    let afterFirst = try catalog.current()
    #expect(afterFirst.records.map(\.id) == [first.id])
    #expect(afterFirst.image(id: first.id) == first)
    #expect(afterFirst.image(reference: "docker.io/library/busybox:1")?.id == first.id)
    #expect(afterFirst.images(idPrefix: "sha256:aaaa").count == 1)
    #expect(try catalog.current().changeCount == afterFirst.changeCount)

    // The tag moves to a new image: the old one, left without names, is gone from the store and the index.
    let second = Self.record("b", references: [.init("docker.io/library/busybox:1", kind: .tag)], createdAt: 2)
    try store.putImage(second)
    let afterSecond = try catalog.current()
    #expect(afterSecond.records.map(\.id) == [second.id])
    #expect(afterSecond.image(reference: "docker.io/library/busybox:1")?.id == second.id)
    #expect(afterSecond.image(id: first.id) == nil)

    // A sandbox write is not an image write: the catalog is kept.
    try store.putSandbox(
      SandboxRecord(id: "s", name: "n", namespace: "ns", uid: "u", attempt: 0, state: .ready, runtimeHandler: "", createdAt: 1, config: []))
    #expect(try catalog.current().changeCount == afterSecond.changeCount)
    try store.setPinned(second.id, true)
    #expect(try catalog.current().image(id: second.id)?.pinned == true)
    try store.removeImage(id: second.id)
    let afterRemoval = try catalog.current()
    #expect(afterRemoval.records.isEmpty)
    #expect(afterRemoval.image(reference: "docker.io/library/busybox:1") == nil)
  }
}
