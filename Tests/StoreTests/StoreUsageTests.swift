import CrispCore
import Foundation
import Store
import Testing

/// Usage accounting kept with the records: blobs, measured snapshots, their removal, and a reopened store
/// that sums the tables instead of walking anything.
@Suite struct StoreUsageTests {
  private func withDirectory(_ body: (String) throws -> Void) throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-usage-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try body(directory)
  }

  private let digestA = String(repeating: "a", count: 64)
  private let digestB = String(repeating: "b", count: 64)

  @Test func blobsAndSnapshotsMoveTheTotalsAndSurviveAReopen() throws {
    try withDirectory { directory in
      let store = try Store(path: directory + "/crisp.db")
      #expect(store.accountedUsage == StoreUsage())
      try store.recordBlob(digestA, UsageTotals(bytes: 4096, inodes: 1))
      try store.recordBlob(digestB, UsageTotals(bytes: 8192, inodes: 1))
      // Recording a blob again replaces its numbers rather than adding them twice.
      try store.recordBlob(digestB, UsageTotals(bytes: 12288, inodes: 1))
      #expect(store.accountedUsage.content == UsageTotals(bytes: 16384, inodes: 2))

      let layer = try store.createSnapshot(kind: .layer, chainID: "sha256:" + digestA, parentID: nil, owner: nil)
      try store.commitSnapshot(layer, measured: UsageTotals(bytes: 1 << 20, inodes: 10))
      let writable = try store.createSnapshot(kind: .active, chainID: nil, parentID: layer, owner: "container-1")
      try store.commitSnapshot(writable, size: 0)
      #expect(store.accountedUsage.snapshots == UsageTotals(bytes: 1 << 20, inodes: 10))
      #expect(try store.unmeasuredSnapshots().map(\.id) == [writable])
      #expect(try store.snapshot(id: layer)?.inodes == 10)

      store.close()
      let reopened = try Store(path: directory + "/crisp.db")
      #expect(
        reopened.accountedUsage == StoreUsage(content: UsageTotals(bytes: 16384, inodes: 2), snapshots: UsageTotals(bytes: 1 << 20, inodes: 10)))

      // The writable layer was never accounted: deleting it moves nothing.
      try reopened.deleteSnapshot(writable)
      #expect(reopened.accountedUsage.snapshots == UsageTotals(bytes: 1 << 20, inodes: 10))
      try reopened.deleteSnapshot(layer)
      try reopened.forgetBlob(digestA)
      // Forgetting and deleting what is not there changes nothing.
      try reopened.forgetBlob(digestA)
      try reopened.deleteSnapshot(layer)
      #expect(reopened.accountedUsage == StoreUsage(content: UsageTotals(bytes: 12288, inodes: 1), snapshots: UsageTotals()))
      #expect(try reopened.accountedBlobs() == [digestB])
      reopened.close()
    }
  }

  @Test func aSnapshotMeasuredLaterIsRecordedOnce() throws {
    try withDirectory { directory in
      let store = try Store(path: directory + "/crisp.db")
      defer { store.close() }
      // As a store from before accounting has it: committed, no inodes.
      let id = try store.createSnapshot(kind: .layer, chainID: "sha256:" + digestA, parentID: nil, owner: nil)
      try store.commitSnapshot(id, size: 0)
      #expect(try store.unmeasuredSnapshots().map(\.id) == [id])
      #expect(try store.recordSnapshotUsage(id, UsageTotals(bytes: 500, inodes: 5)))
      #expect(try !store.recordSnapshotUsage(id, UsageTotals(bytes: 700, inodes: 7)))
      #expect(try !store.recordSnapshotUsage(id + 100, UsageTotals(bytes: 700, inodes: 7)))
      #expect(store.accountedUsage.snapshots == UsageTotals(bytes: 500, inodes: 5))
      #expect(try store.unmeasuredSnapshots().isEmpty)
    }
  }

  @Test func theContentStoreRecordsCommitsAndDeletionsAndReconcilesWithTheDisk() throws {
    try withDirectory { directory in
      let store = try Store(path: directory + "/crisp.db")
      defer { store.close() }
      let content = try ContentStore(root: directory + "/content", ledger: store)
      let hex = try content.write(Array(repeating: 1, count: 10_000))
      let measured = try #require(content.measure(sha256: hex))
      #expect(measured.inodes == 1 && measured.bytes >= 10_000)
      #expect(store.accountedUsage.content == measured)
      try content.delete(sha256: hex)
      #expect(store.accountedUsage.content == UsageTotals())

      // A blob on disk without a record (written before accounting) and a record without a blob.
      let unaccounted = try ContentStore(root: directory + "/content")
      let kept = try unaccounted.write(Array(repeating: 2, count: 5000))
      try store.recordBlob(digestA, UsageTotals(bytes: 4096, inodes: 1))
      let (added, dropped) = try content.reconcileUsage()
      #expect(added == 1 && dropped == 1)
      #expect(try store.accountedBlobs() == [kept])
      #expect(store.accountedUsage.content == content.measure(sha256: kept))
      let again = try content.reconcileUsage()
      #expect(again.added == 0 && again.dropped == 0)
    }
  }
}
