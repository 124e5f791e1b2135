import CrispCore
import Foundation
@testable import Runtime
import Store
import Testing

/// Status lookups are answered from the kept list, or a row read since the last write, only while they
/// are as current as the store: after any write the row is read again, never the old record given.
@Suite struct ListedRecordsTests {
  static func sandbox(_ id: String, state: SandboxRecord.State = .ready) -> SandboxRecord {
    SandboxRecord(
      id: id, name: "pod-\(id)", namespace: "ns", uid: "uid-\(id)", attempt: 0, state: state, runtimeHandler: "", createdAt: 1,
      config: [])
  }

  /// Counts the rows read through it.
  final class Reader: @unchecked Sendable {
    let store: Store
    var reads = 0
    init(_ store: Store) { self.store = store }
    func read(_ id: String) throws(CrispError) -> SandboxRecord? {
      reads += 1
      return try store.sandbox(id: id)
    }
  }

  /// A store of its own in a temporary directory, closed and removed after `body`.
  static func withStore(_ body: (Store) throws -> Void) throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-listed-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: base) }
    let store = try Store(path: base + "/crisp.db")
    defer { store.close() }
    try body(store)
  }

  @Test func lookupsFollowTheStoreNeverAStaleList() throws {
    try Self.withStore(lookupsFollowTheStore)
  }

  func lookupsFollowTheStore(_ store: Store) throws {
    let listed = ListedRecords<SandboxRecord>(id: \.id)
    let reader = Reader(store)
    func lookup(_ id: String) throws -> SandboxRecord? { try listed.record(store, id: id, read: reader.read) }

    #expect(try lookup("a") == nil, "no such row")
    #expect(reader.reads == 1, "never listed: the row is read")
    try store.putSandbox(Self.sandbox("a"))
    #expect(try lookup("a")?.state == .ready, "written since: read again, not the remembered absence")
    #expect(reader.reads == 2)
    #expect(try lookup("a")?.state == .ready)
    #expect(reader.reads == 2, "nothing written since: the row read before")

    try store.putSandbox(Self.sandbox("b"))
    _ = try listed.records(store) { () throws(CrispError) in try store.allSandboxes() }
    #expect(try lookup("a")?.state == .ready)
    #expect(try lookup("b")?.id == "b")
    #expect(try lookup("c") == nil, "current list without it: no such record")
    #expect(reader.reads == 2, "a current list answers every lookup")

    try store.markSandboxNotReady("a")
    #expect(try lookup("a")?.state == .notready, "a write since the list: the row is read")
    #expect(reader.reads == 3)
    _ = try listed.records(store) { () throws(CrispError) in try store.allSandboxes() }
    #expect(try lookup("a")?.state == .notready)
    #expect(reader.reads == 3)
  }

  @Test func rowsReadAreBounded() throws {
    try Self.withStore(rowsReadAreBounded)
  }

  func rowsReadAreBounded(_ store: Store) throws {
    let listed = ListedRecords<SandboxRecord>(id: \.id)
    let reader = Reader(store)
    // Far more distinct ids than are kept: answers stay right, the kept rows start over at the limit.
    let count = ListedRecords<SandboxRecord>.rowLimit * 3
    for index in 0..<count { #expect(try listed.record(store, id: "missing-\(index)", read: reader.read) == nil) }
    #expect(reader.reads == count)
    #expect(try listed.record(store, id: "missing-\(count - 1)", read: reader.read) == nil)
    #expect(reader.reads == count, "the latest ids are still kept")
  }
}
