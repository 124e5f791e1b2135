public import CrispCore
import GRDB

/// Usage accounting: each blob's and each image snapshot's bytes and inodes, written in the same transaction
/// as the change that makes or removes them (a snapshot's commit and deletion) or right after the blob's
/// file is committed, and summed in memory, so ImageFsInfo is a read of two numbers and a restart does not
/// walk the store.
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
    let previous = try write("record usage of blob \(digest)") { db -> UsageTotals? in
      let previous = try Self.blobUsage(db, digest)
      try db.execute(
        sql: """
          INSERT INTO blob_usage (digest, bytes, inodes) VALUES (?, ?, ?)
          ON CONFLICT(digest) DO UPDATE SET bytes = excluded.bytes, inodes = excluded.inodes
          """, arguments: [digest, measured.bytes, measured.inodes])
      return previous
    }
    usage.withLock {
      if let previous { $0.content.remove(previous) }
      $0.content.add(measured)
    }
  }

  /// Drops the blob's usage (the blob was deleted). A blob not recorded is fine.
  public func forgetBlob(_ digest: String) throws(CrispError) {
    let previous = try write("forget usage of blob \(digest)") { db -> UsageTotals? in
      let previous = try Self.blobUsage(db, digest)
      try db.execute(sql: "DELETE FROM blob_usage WHERE digest = ?", arguments: [digest])
      return previous
    }
    if let previous { usage.withLock { $0.content.remove(previous) } }
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
    let previous = try write("commit snapshot \(id)") { db -> UsageTotals? in
      let previous = try Self.snapshotUsage(db, id)
      try db.execute(
        sql: "UPDATE snapshots SET state = 'committed', size = ?, inodes = ? WHERE id = ?", arguments: [measured.bytes, measured.inodes, id])
      return db.changesCount > 0 ? previous ?? UsageTotals() : nil
    }
    guard let previous else { return }
    usage.withLock {
      $0.snapshots.remove(previous)
      $0.snapshots.add(measured)
    }
  }

  /// Records the usage of a committed snapshot measured after the fact (a store from before accounting);
  /// a snapshot already measured, or gone, is left as it is. Returns whether it was recorded.
  @discardableResult
  public func recordSnapshotUsage(_ id: Int64, _ measured: UsageTotals) throws(CrispError) -> Bool {
    let recorded = try write("record usage of snapshot \(id)") { db -> Bool in
      try db.execute(
        sql: "UPDATE snapshots SET size = ?, inodes = ? WHERE id = ? AND state = 'committed' AND inodes IS NULL",
        arguments: [measured.bytes, measured.inodes, id])
      return db.changesCount > 0
    }
    if recorded { usage.withLock { $0.snapshots.add(measured) } }
    return recorded
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
