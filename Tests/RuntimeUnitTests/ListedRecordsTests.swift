import CrispCore
import Foundation
@testable import Runtime
import Store
import Testing

/// Status lookups are answered from the kept list only while it is as current as the store: after any
/// write the caller is sent to the store, never given the old record.
@Suite struct ListedRecordsTests {
  static func sandbox(_ id: String, state: SandboxRecord.State = .ready) -> SandboxRecord {
    SandboxRecord(
      id: id, name: "pod-\(id)", namespace: "ns", uid: "uid-\(id)", attempt: 0, state: state, runtimeHandler: "", createdAt: 1,
      config: [])
  }

  @Test func lookupsFollowTheStoreNeverAStaleList() throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-listed-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: base) }
    let store = try Store(path: base + "/crisp.db")
    defer { store.close() }
    let listed = ListedRecords<SandboxRecord>(id: \.id)
    #expect(listed.record(store, id: "a") == nil, "never listed: ask the store")

    try store.putSandbox(Self.sandbox("a"))
    try store.putSandbox(Self.sandbox("b"))
    _ = try listed.records(store) { () throws(CrispError) in try store.allSandboxes() }
    #expect(listed.record(store, id: "a")??.state == .ready)
    #expect(listed.record(store, id: "b")??.id == "b")
    let missing = listed.record(store, id: "c")
    #expect(missing == .some(nil), "current list without it: no such record")

    try store.markSandboxNotReady("a")
    #expect(listed.record(store, id: "a") == nil, "a write since the list: ask the store")
    _ = try listed.records(store) { () throws(CrispError) in try store.allSandboxes() }
    #expect(listed.record(store, id: "a")??.state == .notready)
  }
}
