public import CrispCore
import Foundation
import GRDB

/// An image as crisp knows it once pulled or imported: the id is `sha256:<config digest>`, the same in
/// every RPC and however many names it has.
public struct ImageRecord: Sendable, Equatable {
  public var id: String
  public var manifestDigest: String
  /// The chain id of its top layer: the snapshot containers of this image start from.
  public var chainID: String
  /// Compressed size of config and layers, as kubelet's image GC counts it.
  public var size: Int64
  /// Never garbage-collected by kubelet (the sandbox image and `pinned_images`).
  public var pinned: Bool
  /// The image config JSON, as stored in the content store.
  public var config: [UInt8]
  public var createdAt: Int64
  /// Tags (`repo:tag`) and digests (`repo@sha256:…`) naming this image.
  public var references: [ImageReferenceRecord]

  public init(
    id: String, manifestDigest: String, chainID: String, size: Int64, pinned: Bool, config: [UInt8], createdAt: Int64,
    references: [ImageReferenceRecord]
  ) {
    self.id = id
    self.manifestDigest = manifestDigest
    self.chainID = chainID
    self.size = size
    self.pinned = pinned
    self.config = config
    self.createdAt = createdAt
    self.references = references
  }

  public var repoTags: [String] { references.filter { $0.kind == .tag }.map(\.reference).sorted() }
  public var repoDigests: [String] { references.filter { $0.kind == .digest }.map(\.reference).sorted() }
}

public struct ImageReferenceRecord: Sendable, Equatable, Hashable {
  public enum Kind: String, Sendable { case tag, digest }
  public var reference: String
  public var kind: Kind

  public init(_ reference: String, kind: Kind) {
    self.reference = reference
    self.kind = kind
  }
}

extension Store {
  /// Records `image` with its references in one transaction. A reference that named another image moves to
  /// this one (a tag was re-pushed); an image left with no reference at all is removed from the table (its
  /// content goes with the next garbage collection).
  public func putImage(_ image: ImageRecord) throws(CrispError) {
    try writeImages("record image \(image.id)") { db in
      try db.execute(
        sql: """
          INSERT INTO images (id, manifest_digest, chain_id, size, pinned, config, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest, chain_id = excluded.chain_id,
            size = excluded.size, pinned = max(images.pinned, excluded.pinned), config = excluded.config
          """, arguments: [image.id, image.manifestDigest, image.chainID, image.size, image.pinned, Data(image.config), image.createdAt])
      var displaced: Set<String> = []
      for reference in image.references {
        if let previous = try String.fetchOne(db, sql: "SELECT image_id FROM image_references WHERE reference = ?", arguments: [reference.reference]),
          previous != image.id
        {
          displaced.insert(previous)
        }
        try db.execute(
          sql: """
            INSERT INTO image_references (reference, image_id, kind) VALUES (?, ?, ?)
            ON CONFLICT(reference) DO UPDATE SET image_id = excluded.image_id, kind = excluded.kind
            """, arguments: [reference.reference, image.id, reference.kind.rawValue])
      }
      for orphan in displaced {
        let left = try Int.fetchOne(db, sql: "SELECT count(*) FROM image_references WHERE image_id = ?", arguments: [orphan]) ?? 0
        if left == 0 { try db.execute(sql: "DELETE FROM images WHERE id = ?", arguments: [orphan]) }
      }
    }
  }

  /// Marks an image pinned (or not).
  public func setPinned(_ id: String, _ pinned: Bool) throws(CrispError) {
    try writeImages("pin image \(id)") { db in
      try db.execute(sql: "UPDATE images SET pinned = ? WHERE id = ?", arguments: [pinned, id])
    }
  }

  public func image(id: String) throws(CrispError) -> ImageRecord? {
    try read("read image \(id)") { db in try Self.fetchImages(db, whereSQL: "id = ?", [id]).first }
  }

  /// The image a reference (`repo:tag` or `repo@digest`) names.
  public func imageID(forReference reference: String) throws(CrispError) -> String? {
    try read("resolve \(reference)") { db in
      try String.fetchOne(db, sql: "SELECT image_id FROM image_references WHERE reference = ?", arguments: [reference])
    }
  }

  /// Images whose id starts with `prefix` (for short ids, as crictl accepts them).
  public func imageIDs(withPrefix prefix: String) throws(CrispError) -> [String] {
    try read("find images \(prefix)") { db in
      try String.fetchAll(db, sql: "SELECT id FROM images WHERE substr(id, 1, ?) = ?", arguments: [prefix.utf8.count, prefix])
    }
  }

  public func allImages() throws(CrispError) -> [ImageRecord] {
    try read("list images") { db in try Self.fetchImages(db, whereSQL: nil, []) }
  }

  /// Removes an image and all its references in one transaction; returns whether it existed.
  @discardableResult
  public func removeImage(id: String) throws(CrispError) -> Bool {
    try writeImages("remove image \(id)") { db in
      try db.execute(sql: "DELETE FROM image_references WHERE image_id = ?", arguments: [id])
      try db.execute(sql: "DELETE FROM images WHERE id = ?", arguments: [id])
      return db.changesCount > 0
    }
  }

  private static func fetchImages(_ db: Database, whereSQL: String?, _ arguments: [String]) throws -> [ImageRecord] {
    let sql =
      "SELECT id, manifest_digest, chain_id, size, pinned, config, created_at FROM images"
      + (whereSQL.map { " WHERE \($0)" } ?? "") + " ORDER BY created_at, id"
    let rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments))
    var references: [String: [ImageReferenceRecord]] = [:]
    for row in try Row.fetchAll(db, sql: "SELECT reference, image_id, kind FROM image_references ORDER BY reference") {
      let imageID: String = row["image_id"]
      let kind = ImageReferenceRecord.Kind(rawValue: row["kind"]) ?? .tag
      references[imageID, default: []].append(ImageReferenceRecord(row["reference"], kind: kind))
    }
    return rows.map { row in
      let config: Data? = row["config"]
      let id: String = row["id"]
      return ImageRecord(
        id: id, manifestDigest: row["manifest_digest"], chainID: row["chain_id"], size: row["size"],
        pinned: row["pinned"], config: config.map { Array($0) } ?? [], createdAt: row["created_at"],
        references: references[id] ?? [])
    }
  }
}

/// A snapshot: one layer of an image chain (shared by every image with that chain), or a container's
/// writable layer on top of a chain.
public struct SnapshotRecord: Sendable, Equatable {
  public enum Kind: String, Sendable { case layer, active }
  public enum State: String, Sendable { case preparing, committed }
  /// Also the directory name under `<root>/snapshots/`: short on purpose (mount options have a size limit).
  public var id: Int64
  public var chainID: String?
  public var parentID: Int64?
  public var kind: Kind
  public var state: State
  /// The container that owns an active snapshot.
  public var owner: String?
  /// Bytes on disk: measured at commit for image layers and views, 0 for container writable layers.
  public var size: Int64
  /// Inodes measured with `size`; nil when not measured (writable layers, and snapshots from before usage
  /// accounting until start-up measures them).
  public var inodes: Int64?
}

extension Store {
  /// Reserves a new snapshot id in state `preparing`. A chain id (for layers) or owner (for containers) that
  /// already has a snapshot fails with `alreadyExists`.
  public func createSnapshot(kind: SnapshotRecord.Kind, chainID: String?, parentID: Int64?, owner: String?) throws(CrispError) -> Int64 {
    try write("create snapshot") { db in
      if let chainID, try Int64.fetchOne(db, sql: "SELECT id FROM snapshots WHERE chain_id = ?", arguments: [chainID]) != nil {
        throw CrispError.alreadyExists("snapshot for chain \(chainID) exists")
      }
      if let owner, try Int64.fetchOne(db, sql: "SELECT id FROM snapshots WHERE owner = ?", arguments: [owner]) != nil {
        throw CrispError.alreadyExists("snapshot for \(owner) exists")
      }
      try db.execute(
        sql: """
          INSERT INTO snapshots (chain_id, parent_id, kind, state, owner, created_at) VALUES (?, ?, ?, 'preparing', ?, ?)
          """, arguments: [chainID, parentID, kind.rawValue, owner, Self.now()])
      return db.lastInsertedRowID
    }
  }

  public func commitSnapshot(_ id: Int64, size: Int64) throws(CrispError) {
    try write("commit snapshot \(id)") { db in
      try db.execute(sql: "UPDATE snapshots SET state = 'committed', size = ? WHERE id = ?", arguments: [size, id])
    }
  }

  public func snapshot(chainID: String) throws(CrispError) -> SnapshotRecord? {
    try read("find snapshot") { db in try Self.fetchSnapshots(db, "chain_id = ?", [chainID]).first }
  }

  public func snapshot(owner: String) throws(CrispError) -> SnapshotRecord? {
    try read("find snapshot") { db in try Self.fetchSnapshots(db, "owner = ?", [owner]).first }
  }

  public func snapshot(id: Int64) throws(CrispError) -> SnapshotRecord? {
    try read("find snapshot") { db in try Self.fetchSnapshots(db, "id = ?", [id]).first }
  }

  public func allSnapshots() throws(CrispError) -> [SnapshotRecord] {
    try read("list snapshots") { db in try Self.fetchSnapshots(db, nil, []) }
  }

  /// Deletes the snapshot's record, and its usage from the accounting in the same transaction.
  public func deleteSnapshot(_ id: Int64) throws(CrispError) {
    try write("delete snapshot \(id)") { db in
      let previous = try Self.snapshotUsage(db, id)
      try db.execute(sql: "DELETE FROM snapshots WHERE id = ?", arguments: [id])
      guard db.changesCount > 0, let previous else { return }
      onCommit(db) { $0.snapshots.remove(previous) }
    }
  }

  private static func fetchSnapshots(_ db: Database, _ whereSQL: String?, _ arguments: [any DatabaseValueConvertible & Sendable]) throws
    -> [SnapshotRecord]
  {
    let sql =
      "SELECT id, chain_id, parent_id, kind, state, owner, size, inodes FROM snapshots" + (whereSQL.map { " WHERE \($0)" } ?? "") + " ORDER BY id"
    return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
      SnapshotRecord(
        id: row["id"], chainID: row["chain_id"], parentID: row["parent_id"],
        kind: SnapshotRecord.Kind(rawValue: row["kind"]) ?? .layer,
        state: SnapshotRecord.State(rawValue: row["state"]) ?? .preparing,
        owner: row["owner"], size: row["size"], inodes: row["inodes"])
    }
  }
}
