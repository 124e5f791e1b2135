public import CrispCore
import GRDB

/// Usage accounting: each blob's and each image snapshot's bytes and inodes, written in the same transaction
/// as the change that makes or removes them (a snapshot's commit and deletion) or right after the blob's
/// file is committed, and summed in memory, so ImageFsInfo is a read of two numbers and a restart does not
/// walk the store.
///
/// The in-memory sums move when a transaction commits (on the writer's queue, in commit order), never after
/// the write returns: two callers recording and deleting the same blob must add and subtract in the order
/// the database saw them, or the sums drift from the tables until the next restart.
extension Store {
  /// The accounted usage right now (no database access).
  public var accountedUsage: StoreUsage { usage.withLock { $0 } }

  /// Sums the accounting tables: once, when the store opens.
  static func sumUsage(_ db: Database) throws -> StoreUsage {
    func totals(_ sql: String) throws -> UsageTotals {
      guard let row = try Row.fetchOne(db, sql: sql) else { return UsageTotals() }
      // SQLite's sum() is exact in 64 bits and fails on overflow rather than wrapping; total() is a double.
      let bytes: Double = row[0] ?? 0
      let inodes: Double = row[1] ?? 0
      return UsageTotals(bytes: Int64(exactly: bytes.rounded()) ?? Int64.max, inodes: Int64(exactly: inodes.rounded()) ?? Int64.max)
    }
    return StoreUsage(
      content: try totals("SELECT total(bytes), total(inodes) FROM blob_usage"),
      snapshots: try totals("SELECT total(size), total(inodes) FROM snapshots WHERE inodes IS NOT NULL"))
  }

  /// Records the usage of the committed blob `digest` (hex), replacing what was recorded for it.
  public func recordBlob(_ digest: String, _ measured: UsageTotals) throws(CrispError) {
    try recordBlobs([(digest, measured)])
  }

  /// Records the usage of several committed blobs in one transaction (start-up reconcile of a store from
  /// before accounting: a few hundred per transaction instead of one each).
  public func recordBlobs(_ blobs: [(digest: String, usage: UsageTotals)]) throws(CrispError) {
    guard let first = blobs.first else { return }
    try write(blobs.count == 1 ? "record usage of blob \(first.digest)" : "record usage of \(blobs.count) blobs") { db in
      var replaced = UsageTotals()
      var recorded = UsageTotals()
      for blob in blobs {
        if let previous = try Self.blobUsage(db, blob.digest) { replaced.add(previous) }
        try db.execute(
          sql: """
            INSERT INTO blob_usage (digest, bytes, inodes) VALUES (?, ?, ?)
            ON CONFLICT(digest) DO UPDATE SET bytes = excluded.bytes, inodes = excluded.inodes
            """, arguments: [blob.digest, blob.usage.bytes, blob.usage.inodes])
        recorded.add(blob.usage)
      }
      onCommit(db) { [replaced, recorded] in
        $0.content.remove(replaced)
        $0.content.add(recorded)
      }
    }
  }

  /// Drops the blob's usage (the blob was deleted). A blob not recorded is fine.
  public func forgetBlob(_ digest: String) throws(CrispError) {
    try forgetBlobs([digest])
  }

  /// Drops several blobs' usage in one transaction.
  public func forgetBlobs(_ digests: [String]) throws(CrispError) {
    guard let first = digests.first else { return }
    try write(digests.count == 1 ? "forget usage of blob \(first)" : "forget usage of \(digests.count) blobs") { db in
      var forgotten = UsageTotals()
      for digest in digests {
        guard let previous = try Self.blobUsage(db, digest) else { continue }
        try db.execute(sql: "DELETE FROM blob_usage WHERE digest = ?", arguments: [digest])
        forgotten.add(previous)
      }
      onCommit(db) { [forgotten] in $0.content.remove(forgotten) }
    }
  }

  /// Moves the in-memory sums by `change` once the current write transaction commits (not at all if it
  /// rolls back). Commit hooks run on the writer's queue in commit order, so the sums follow the tables.
  func onCommit(_ db: Database, _ change: @escaping @Sendable (inout StoreUsage) -> Void) {
    db.afterNextTransaction(onCommit: { _ in self.usage.withLock { change(&$0) } })
  }

  /// The blobs whose usage is recorded (hex digests): start-up compares them with the blobs on disk.
  public func accountedBlobs() throws(CrispError) -> Set<String> {
    try read("list accounted blobs") { db in Set(try String.fetchAll(db, sql: "SELECT digest FROM blob_usage")) }
  }

  private static func blobUsage(_ db: Database, _ digest: String) throws -> UsageTotals? {
    try Row.fetchOne(db, sql: "SELECT bytes, inodes FROM blob_usage WHERE digest = ?", arguments: [digest]).map { row in
      UsageTotals(bytes: row[0], inodes: row[1])
    }
  }

  /// Commits a snapshot with its measured usage, in one transaction: an image layer or view, whose content
  /// does not change after this.
  public func commitSnapshot(_ id: Int64, measured: UsageTotals) throws(CrispError) {
    try write("commit snapshot \(id)") { db in
      let previous = try Self.snapshotUsage(db, id)
      try db.execute(
        sql: "UPDATE snapshots SET state = 'committed', size = ?, inodes = ? WHERE id = ?", arguments: [measured.bytes, measured.inodes, id])
      guard db.changesCount > 0 else { return }
      onCommit(db) {
        if let previous { $0.snapshots.remove(previous) }
        $0.snapshots.add(measured)
      }
    }
  }

  /// Records the usage of a committed snapshot measured after the fact (a store from before accounting);
  /// a snapshot already measured, or gone, is left as it is. Returns whether it was recorded.
  @discardableResult
  public func recordSnapshotUsage(_ id: Int64, _ measured: UsageTotals) throws(CrispError) -> Bool {
    try write("record usage of snapshot \(id)") { db -> Bool in
      try db.execute(
        sql: "UPDATE snapshots SET size = ?, inodes = ? WHERE id = ? AND state = 'committed' AND inodes IS NULL",
        arguments: [measured.bytes, measured.inodes, id])
      guard db.changesCount > 0 else { return false }
      onCommit(db) { $0.snapshots.add(measured) }
      return true
    }
  }

  /// Committed snapshots whose usage is not recorded: container writable layers, and on a store from before
  /// accounting, layers and views too.
  public func unmeasuredSnapshots() throws(CrispError) -> [SnapshotRecord] {
    try allSnapshots().filter { $0.state == .committed && $0.inodes == nil }
  }

  /// A snapshot's recorded usage, nil when none is recorded.
  static func snapshotUsage(_ db: Database, _ id: Int64) throws -> UsageTotals? {
    guard let row = try Row.fetchOne(db, sql: "SELECT size, inodes FROM snapshots WHERE id = ? AND inodes IS NOT NULL", arguments: [id]) else {
      return nil
    }
    return UsageTotals(bytes: row[0], inodes: row[1])
  }
}
