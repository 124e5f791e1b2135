public import CrispCore
import Foundation
import GRDB

/// A pod sandbox as stored: enough to answer every CRI status call and to rebuild state after a restart.
public struct SandboxRecord: Sendable, Equatable {
  public enum State: String, Sendable { case creating, ready, notready }
  public var id: String
  public var name: String
  public var namespace: String
  public var uid: String
  public var attempt: Int64
  public var state: State
  public var runtimeHandler: String
  public var createdAt: Int64
  /// The serialized CRI PodSandboxConfig, as kubelet sent it.
  public var config: [UInt8]
  public var netnsPath: String
  /// The pause process.
  public var pid: Int64
  public var ips: [String]
  /// Runtime details (cgroup path, shm mount) as JSON.
  public var extra: [UInt8]

  public init(
    id: String, name: String, namespace: String, uid: String, attempt: Int64, state: State, runtimeHandler: String,
    createdAt: Int64, config: [UInt8], netnsPath: String = "", pid: Int64 = 0, ips: [String] = [], extra: [UInt8] = []
  ) {
    self.id = id
    self.name = name
    self.namespace = namespace
    self.uid = uid
    self.attempt = attempt
    self.state = state
    self.runtimeHandler = runtimeHandler
    self.createdAt = createdAt
    self.config = config
    self.netnsPath = netnsPath
    self.pid = pid
    self.ips = ips
    self.extra = extra
  }
}

/// A container as stored.
public struct ContainerRecord: Sendable, Equatable {
  public enum State: String, Sendable { case creating, created, running, exited, unknown }
  public var id: String
  public var sandboxID: String
  public var name: String
  public var attempt: Int64
  public var state: State
  /// The image as kubelet named it.
  public var imageRef: String
  public var imageID: String
  public var createdAt: Int64
  public var startedAt: Int64 = 0
  public var finishedAt: Int64 = 0
  public var exitCode: Int32 = 0
  public var reason: String = ""
  public var message: String = ""
  /// The serialized CRI ContainerConfig.
  public var config: [UInt8]
  public var logPath: String
  public var pid: Int64 = 0
  public var extra: [UInt8] = []

  public init(
    id: String, sandboxID: String, name: String, attempt: Int64, state: State, imageRef: String, imageID: String,
    createdAt: Int64, config: [UInt8], logPath: String
  ) {
    self.id = id
    self.sandboxID = sandboxID
    self.name = name
    self.attempt = attempt
    self.state = state
    self.imageRef = imageRef
    self.imageID = imageID
    self.createdAt = createdAt
    self.config = config
    self.logPath = logPath
  }
}

extension Store {
  // MARK: Sandboxes

  /// Inserts or replaces a sandbox record.
  /// Marks a ready sandbox NOTREADY (its pause container exited) only while the record still exists and is
  /// ready: status readers do this without the sandbox's lock and must never bring back a removed record.
  public func markSandboxNotReady(_ id: String) throws(CrispError) {
    try write("mark sandbox \(id) not ready") { db in
      try db.execute(sql: "UPDATE sandboxes SET state = 'notready' WHERE id = ? AND state = 'ready'", arguments: [id])
    }
  }

  public func putSandbox(_ s: SandboxRecord) throws(CrispError) {
    let ips = String(decoding: (try? JSONSerialization.data(withJSONObject: s.ips)) ?? Data("[]".utf8), as: UTF8.self)
    try write("record sandbox \(s.id)") { db in
      try db.execute(
        sql: """
          INSERT OR REPLACE INTO sandboxes (id, name, namespace, uid, attempt, state, runtime_handler, created_at, config, netns_path, pid, ips, extra)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          s.id, s.name, s.namespace, s.uid, s.attempt, s.state.rawValue, s.runtimeHandler, s.createdAt,
          Data(s.config), s.netnsPath, s.pid, ips, Data(s.extra),
        ])
    }
  }

  public func sandbox(id: String) throws(CrispError) -> SandboxRecord? {
    try read("read sandbox \(id)") { db in try Self.fetchSandboxes(db, "id = ?", [id]).first }
  }

  public func allSandboxes() throws(CrispError) -> [SandboxRecord] {
    try read("list sandboxes") { db in try Self.fetchSandboxes(db, nil, []) }
  }

  /// Deletes a sandbox record and releases its name, in one transaction.
  public func deleteSandbox(_ id: String, name: String) throws(CrispError) {
    try write("delete sandbox \(id)") { db in
      try db.execute(sql: "DELETE FROM sandboxes WHERE id = ?", arguments: [id])
      try db.execute(sql: "DELETE FROM name_reservations WHERE name = ? AND owner_id = ?", arguments: [name, id])
    }
  }

  private static func fetchSandboxes(_ db: Database, _ whereSQL: String?, _ arguments: [String]) throws -> [SandboxRecord] {
    let sql = """
      SELECT id, name, namespace, uid, attempt, state, runtime_handler, created_at, config, netns_path, pid, ips, extra FROM sandboxes
      """ + (whereSQL.map { " WHERE \($0)" } ?? "") + " ORDER BY created_at, id"
    // Cached statements: kubelet's status calls read one row at a time, many times a second on a full node.
    return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: StatementArguments(arguments)).map { row in
      let ipsText: String = row[11]
      let ips = IPList.decode(ipsText)
      let config: Data = row[8]
      let extra: Data? = row[12]
      return SandboxRecord(
        id: row[0], name: row[1], namespace: row[2], uid: row[3], attempt: row[4], state: SandboxRecord.State(rawValue: row[5]) ?? .notready,
        runtimeHandler: row[6], createdAt: row[7], config: Array(config), netnsPath: row[9], pid: row[10], ips: ips,
        extra: extra.map { Array($0) } ?? [])
    }
  }

  // MARK: Containers

  public func putContainer(_ c: ContainerRecord) throws(CrispError) {
    try write("record container \(c.id)") { db in
      try db.execute(
        sql: """
          INSERT OR REPLACE INTO containers (id, sandbox_id, name, attempt, state, image_ref, image_id, created_at, started_at,
            finished_at, exit_code, reason, message, config, log_path, pid, extra)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          c.id, c.sandboxID, c.name, c.attempt, c.state.rawValue, c.imageRef, c.imageID, c.createdAt, c.startedAt,
          c.finishedAt, c.exitCode, c.reason, c.message, Data(c.config), c.logPath, c.pid, Data(c.extra),
        ])
    }
  }

  /// Folds a container's exit into its record only while the record still exists and is running or created.
  /// Readers fold exits in without holding the container's lock, so this must never bring back a record a
  /// concurrent RemoveContainer deleted, nor overwrite a state another call has moved on from.
  public func recordExit(_ id: String, exitCode: Int32, finishedAt: Int64, reason: String) throws(CrispError) {
    try write("record exit of container \(id)") { db in
      try db.execute(
        sql: """
          UPDATE containers SET state = 'exited', exit_code = ?, finished_at = ?, reason = ?
          WHERE id = ? AND state IN ('running', 'created')
          """, arguments: [exitCode, finishedAt, reason, id])
    }
  }

  public func container(id: String) throws(CrispError) -> ContainerRecord? {
    try read("read container \(id)") { db in try Self.fetchContainers(db, "id = ?", [id]).first }
  }

  public func allContainers() throws(CrispError) -> [ContainerRecord] {
    try read("list containers") { db in try Self.fetchContainers(db, nil, []) }
  }

  public func containers(inSandbox sandboxID: String) throws(CrispError) -> [ContainerRecord] {
    try read("list containers of \(sandboxID)") { db in try Self.fetchContainers(db, "sandbox_id = ?", [sandboxID]) }
  }

  /// Deletes a container record and releases its name, in one transaction.
  public func deleteContainer(_ id: String, reservedName: String) throws(CrispError) {
    try write("delete container \(id)") { db in
      try db.execute(sql: "DELETE FROM containers WHERE id = ?", arguments: [id])
      try db.execute(sql: "DELETE FROM name_reservations WHERE name = ? AND owner_id = ?", arguments: [reservedName, id])
    }
  }

  /// Ids (of sandboxes and containers) starting with `prefix`, for the short ids crictl accepts.
  public func runtimeIDs(withPrefix prefix: String, table: String) throws(CrispError) -> [String] {
    guard table == "sandboxes" || table == "containers" else { return [] }
    return try read("find ids") { db in
      try String.fetchAll(db, sql: "SELECT id FROM \(table) WHERE substr(id, 1, ?) = ?", arguments: [prefix.utf8.count, prefix])
    }
  }

  /// Columns are named once in the query and read by position: lists of many containers are hot, and a
  /// lookup by name costs a case-insensitive search per column per row.
  private static func fetchContainers(_ db: Database, _ whereSQL: String?, _ arguments: [String]) throws -> [ContainerRecord] {
    let sql = """
      SELECT id, sandbox_id, name, attempt, state, image_ref, image_id, created_at, config, log_path, started_at, finished_at,
        exit_code, reason, message, pid, extra FROM containers
      """ + (whereSQL.map { " WHERE \($0)" } ?? "") + " ORDER BY created_at, id"
    return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: StatementArguments(arguments)).map { row in
      let config: Data = row[8]
      let extra: Data? = row[16]
      var record = ContainerRecord(
        id: row[0], sandboxID: row[1], name: row[2], attempt: row[3], state: ContainerRecord.State(rawValue: row[4]) ?? .unknown,
        imageRef: row[5], imageID: row[6], createdAt: row[7], config: Array(config), logPath: row[9])
      record.startedAt = row[10]
      record.finishedAt = row[11]
      record.exitCode = row[12]
      record.reason = row[13]
      record.message = row[14]
      record.pid = row[15]
      record.extra = extra.map { Array($0) } ?? []
      return record
    }
  }
}
