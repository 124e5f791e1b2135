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

  /// Records and deletions of the same blobs and snapshots racing on many threads: the in-memory totals
  /// move in the order the database committed the changes, so they always equal a fresh sum of the tables.
  @Test func concurrentRecordsAndDeletionsLeaveTheTotalsEqualToARecount() throws {
    try withDirectory { directory in
      let store = try Store(path: directory + "/crisp.db")
      let digests = [digestA, digestB]
      var snapshots: [Int64] = []
      for digest in digests {
        snapshots.append(try store.createSnapshot(kind: .layer, chainID: "sha256:" + digest, parentID: nil, owner: nil))
      }
      let ids = snapshots
      DispatchQueue.concurrentPerform(iterations: 8) { worker in
        for round in 0..<300 {
          let which = (worker + round) % 2
          let size = UsageTotals(bytes: Int64(4096 * (1 + (worker + round) % 5)), inodes: Int64(1 + worker))
          do {
            // A snapshot's commit replaces its numbers; a blob comes and goes.
            try store.commitSnapshot(ids[which], measured: size)
            if (worker + round / 2) % 2 == 0 {
              try store.recordBlob(digests[which], size)
            } else {
              try store.forgetBlob(digests[which])
            }
          } catch {
            Issue.record("\(error)")
          }
        }
      }
      let racing = store.accountedUsage
      store.close()
      let recount = try Store(path: directory + "/crisp.db")
      defer { recount.close() }
      #expect(racing == recount.accountedUsage)
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

  /// Partial downloads are on the image filesystem while a pull runs: ImageFsInfo counts them (one `lstat`
  /// each, for at most ``ContentStore/ingestCountLimit`` files), and stops counting them once committed.
  @Test func partialDownloadsCountUntilCommittedWithinTheCap() throws {
    try withDirectory { directory in
      let store = try Store(path: directory + "/crisp.db")
      defer { store.close() }
      let content = try ContentStore(root: directory + "/content", ledger: store)
      let before = content.directoryUsage()
      #expect(content.ingestUsage() == UsageTotals())
      let payload = [UInt8](repeating: 7, count: 1 << 20)
      let writer = try content.beginIngest(expectedSHA256: nil, expectedSize: nil)
      try writer.append(payload)
      let partial = content.ingestUsage()
      #expect(partial.inodes == 1 && partial.bytes >= 1 << 20, "\(partial)")
      #expect(content.directoryUsage().bytes >= before.bytes + (1 << 20))
      #expect(content.directoryUsage().inodes == before.inodes + 1)
      let hex = try writer.commit()
      #expect(content.ingestUsage() == UsageTotals())
      #expect(store.accountedUsage.content == content.measure(sha256: hex))

      // Leftovers beyond the cap are not listed further.
      for index in 0..<(ContentStore.ingestCountLimit + 50) {
        let fd = open(directory + "/content/ingest/left-\(index)", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        #expect(fd >= 0)
        close(fd)
      }
      #expect(content.ingestUsage().inodes == Int64(ContentStore.ingestCountLimit))
    }
  }

  /// Start-up reconcile of a store from before accounting records its blobs a batch per transaction, not one
  /// transaction each, and ends with the same totals.
  @Test func reconcileRecordsBlobsInBatches() throws {
    try withDirectory { directory in
      let store = try Store(path: directory + "/crisp.db")
      defer { store.close() }
      let unaccounted = try ContentStore(root: directory + "/content")
      var expected = UsageTotals()
      for index in 0..<600 {
        let hex = try unaccounted.write(Array("blob \(index)".utf8))
        expected.add(try #require(unaccounted.measure(sha256: hex)))
      }
      let content = try ContentStore(root: directory + "/content", ledger: store)
      let writesBefore = store.changeCount
      let (added, dropped) = try content.reconcileUsage()
      #expect(added == 600 && dropped == 0)
      // 600 blobs at 256 a transaction: three writes.
      #expect(store.changeCount - writesBefore == 3)
      #expect(store.accountedUsage.content == expected)
      #expect(try store.accountedBlobs().count == 600)
    }
  }
}
