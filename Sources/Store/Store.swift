public import CrispCore
import Foundation
import GRDB
import Synchronization

/// crisp's metadata database: images, pod sandboxes, containers and name reservations, in SQLite at
/// `<root>/crisp.db` (WAL mode).
///
/// SQLite rather than files per object because a sandbox creation touches several records at once, and a
/// daemon killed half way through must find either all of them or none: every multi-row change here is one
/// transaction. Uniqueness (of names, of image references) is enforced by the database itself, so two
/// concurrent RunPodSandbox calls for one pod cannot both win.
public final class Store: Sendable {
  private let pool: DatabasePool
  public let path: String
  private let writes = Atomic<UInt64>(0)
  private let imageWrites = Atomic<UInt64>(0)
  /// The accounted disk usage (``StoreUsage``), summed once when the store opens and then moved by every
  /// write that adds or removes an accounted blob or snapshot.
  let usage = Mutex(StoreUsage())

  /// Grows after every write transaction ends (committed or rolled back), and never otherwise: a reader that
  /// saw the same value before two reads knows nothing was written between them, so list results can be
  /// kept in memory and reused while it stays the same.
  public var changeCount: UInt64 { writes.load(ordering: .acquiring) }

  /// As ``changeCount``, for writes to the image tables only: the image catalog is not rebuilt for every
  /// container and sandbox write of a busy node.
  public var imageChangeCount: UInt64 { imageWrites.load(ordering: .acquiring) }

  /// Concurrent read transactions (each is one SQLite connection).
  static let readerCount = 2
  /// Page cache per connection, KiB.
  static let pageCacheKiB = 512

  /// Opens (creating if needed) the database at `path` and brings its schema up to date.
  public init(path: String) throws(CrispError) {
    self.path = path
    var configuration = Configuration()
    configuration.busyMode = .timeout(10)
    configuration.label = "crisp.store"
    // Each connection keeps its own page cache (2 MB by default), and kubelet's status and stats calls
    // spread reads over every reader: with the default five readers the caches grew to hold the database
    // several times over on a full node. Two readers with a small cache each: reads are a few pages, and
    // the kernel's page cache holds the file anyway.
    configuration.maximumReaderCount = Self.readerCount
    configuration.prepareDatabase { db in
      try db.execute(sql: "PRAGMA cache_size = -\(Self.pageCacheKiB)")
    }
    do {
      pool = try DatabasePool(path: path, configuration: configuration)
      try Self.migrator.migrate(pool)
      let totals = try pool.read(Self.sumUsage)
      usage.withLock { $0 = totals }
    } catch {
      throw CrispError(.internal, "store \(path): cannot open the database", cause: error)
    }
  }

  /// Frees the connections' page caches and closes idle readers: after a burst of pod starts, when the
  /// daemon returns memory it no longer needs.
  public func releaseMemory() {
    pool.releaseMemory()
  }

  /// The schema versions, applied in order, each exactly once. Never edit a released migration: add one.
  static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1") { db in
      try db.execute(
        sql: """
          CREATE TABLE images (
            id TEXT PRIMARY KEY NOT NULL,
            manifest_digest TEXT NOT NULL DEFAULT '',
            chain_id TEXT NOT NULL DEFAULT '',
            size INTEGER NOT NULL DEFAULT 0,
            pinned INTEGER NOT NULL DEFAULT 0,
            config BLOB,
            created_at INTEGER NOT NULL
          );
          CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chain_id TEXT UNIQUE,
            parent_id INTEGER REFERENCES snapshots(id),
            kind TEXT NOT NULL CHECK (kind IN ('layer', 'active')),
            state TEXT NOT NULL CHECK (state IN ('preparing', 'committed')),
            owner TEXT UNIQUE,
            size INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL
          );
          CREATE TABLE image_references (
            reference TEXT PRIMARY KEY NOT NULL,
            image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('tag', 'digest'))
          );
          CREATE INDEX image_references_by_image ON image_references(image_id);
          CREATE TABLE sandboxes (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            namespace TEXT NOT NULL,
            uid TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            state TEXT NOT NULL,
            runtime_handler TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            config BLOB NOT NULL,
            netns_path TEXT NOT NULL DEFAULT '',
            pid INTEGER NOT NULL DEFAULT 0,
            ips TEXT NOT NULL DEFAULT '[]',
            extra BLOB
          );
          CREATE TABLE containers (
            id TEXT PRIMARY KEY NOT NULL,
            sandbox_id TEXT NOT NULL REFERENCES sandboxes(id),
            name TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            state TEXT NOT NULL,
            image_ref TEXT NOT NULL,
            image_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            started_at INTEGER NOT NULL DEFAULT 0,
            finished_at INTEGER NOT NULL DEFAULT 0,
            exit_code INTEGER NOT NULL DEFAULT 0,
            reason TEXT NOT NULL DEFAULT '',
            message TEXT NOT NULL DEFAULT '',
            config BLOB NOT NULL,
            log_path TEXT NOT NULL DEFAULT '',
            pid INTEGER NOT NULL DEFAULT 0,
            extra BLOB
          );
          CREATE INDEX containers_by_sandbox ON containers(sandbox_id);
          CREATE TABLE name_reservations (
            name TEXT PRIMARY KEY NOT NULL,
            owner_id TEXT NOT NULL,
            created_at INTEGER NOT NULL
          );
          """)
    }
    migrator.registerMigration("v2-usage") { db in
      // Usage accounting: bytes and inodes measured when a blob or an image's snapshot is written, so the
      // image filesystem's usage is a sum, not a walk. A snapshot's `inodes` is NULL until measured
      // (container writable layers stay NULL: they change while the container runs).
      try db.execute(
        sql: """
          ALTER TABLE snapshots ADD COLUMN inodes INTEGER;
          CREATE TABLE blob_usage (
            digest TEXT PRIMARY KEY NOT NULL,
            bytes INTEGER NOT NULL,
            inodes INTEGER NOT NULL
          );
          """)
    }
    return migrator
  }

  /// The migrations applied to this database, oldest first.
  public func appliedMigrations() throws(CrispError) -> [String] {
    try read("list migrations") { db in try Self.migrator.appliedMigrations(db) }
  }

  // MARK: Name reservations

  /// Claims `name` for `owner` (a sandbox or container id). Claiming a name one already owns is a no-op, so a
  /// retried call is harmless; a name held by another owner fails with `alreadyExists` naming the holder.
  public func reserveName(_ name: String, for owner: String) throws(CrispError) {
    try write("reserve name \"\(name)\"") { db in
      if let holder = try String.fetchOne(db, sql: "SELECT owner_id FROM name_reservations WHERE name = ?", arguments: [name]) {
        if holder == owner { return }
        throw CrispError.alreadyExists("name \"\(name)\" is reserved for \"\(holder)\"")
      }
      try db.execute(
        sql: "INSERT INTO name_reservations (name, owner_id, created_at) VALUES (?, ?, ?)",
        arguments: [name, owner, Self.now()])
    }
  }

  /// Gives up `name` if `owner` holds it. Releasing a name one does not hold does nothing.
  public func releaseName(_ name: String, for owner: String) throws(CrispError) {
    try write("release name \"\(name)\"") { db in
      try db.execute(sql: "DELETE FROM name_reservations WHERE name = ? AND owner_id = ?", arguments: [name, owner])
    }
  }

  /// Who holds `name`, if anyone.
  public func nameOwner(_ name: String) throws(CrispError) -> String? {
    try read("look up name \"\(name)\"") { db in
      try String.fetchOne(db, sql: "SELECT owner_id FROM name_reservations WHERE name = ?", arguments: [name])
    }
  }

  // MARK: Plumbing

  /// Runs `body` in one write transaction; a thrown error rolls everything back.
  /// ``write(_:_:)`` of the image tables.
  func writeImages<T: Sendable>(_ what: String, _ body: (Database) throws -> T) throws(CrispError) -> T {
    defer { imageWrites.add(1, ordering: .releasing) }
    return try write(what, body)
  }

  func write<T: Sendable>(_ what: String, _ body: (Database) throws -> T) throws(CrispError) -> T {
    // Counted after the transaction ends, even a failed one (harmless: a cache reads once more).
    defer { writes.add(1, ordering: .releasing) }
    do {
      return try pool.write(body)
    } catch let error as CrispError {
      throw error
    } catch {
      throw CrispError(.internal, "store: \(what) failed", cause: error)
    }
  }

  /// Runs `body` on a consistent snapshot of the database.
  func read<T: Sendable>(_ what: String, _ body: (Database) throws -> T) throws(CrispError) -> T {
    do {
      return try pool.read(body)
    } catch let error as CrispError {
      throw error
    } catch {
      throw CrispError(.internal, "store: \(what) failed", cause: error)
    }
  }

  /// Flushes the WAL into the main database file and releases the connections' caches; called on shutdown.
  public func close() {
    _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
    try? pool.close()
  }

  /// Nanoseconds since the epoch, the CRI's unit for timestamps.
  public static func now() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
  }
}
