import CrispCore
import Runtime
import RuntimeFakes
import Store
import Testing

/// Start-up recovery as a table: the record's state, whether its shim is alive, whether the shim recorded
/// an exit, and what the OCI runtime says → what the record becomes. The shim and its exit file are the
/// truth; the runtime's view does not change the outcome (a container without its shim cannot be watched).
@Suite struct RecoveryTableTests {
  enum RecordState: String, CaseIterable { case creating, created, running, exited }
  enum Outcome: Equatable { case gone, unchanged, exited(code: Int32), unknown }

  struct Row: Sendable, CustomTestStringConvertible {
    var record: RecordState
    var shimAlive: Bool
    var exitFile: Bool
    /// Whether the runtime still knows the container.
    var runtimeKnows: Bool
    var outcome: Outcome
    var testDescription: String { "\(record) shim:\(shimAlive) exit:\(exitFile) runtime:\(runtimeKnows) → \(outcome)" }
  }

  static let rows: [Row] = [
    .init(record: .creating, shimAlive: true, exitFile: false, runtimeKnows: true, outcome: .gone),
    .init(record: .creating, shimAlive: false, exitFile: false, runtimeKnows: false, outcome: .gone),
    .init(record: .created, shimAlive: true, exitFile: false, runtimeKnows: true, outcome: .unchanged),
    .init(record: .created, shimAlive: false, exitFile: false, runtimeKnows: true, outcome: .unknown),
    .init(record: .created, shimAlive: false, exitFile: true, runtimeKnows: true, outcome: .exited(code: 137)),
    .init(record: .running, shimAlive: true, exitFile: false, runtimeKnows: true, outcome: .unchanged),
    .init(record: .running, shimAlive: true, exitFile: false, runtimeKnows: false, outcome: .unchanged),
    .init(record: .running, shimAlive: false, exitFile: true, runtimeKnows: true, outcome: .exited(code: 137)),
    .init(record: .running, shimAlive: false, exitFile: true, runtimeKnows: false, outcome: .exited(code: 137)),
    .init(record: .running, shimAlive: false, exitFile: false, runtimeKnows: true, outcome: .unknown),
    .init(record: .running, shimAlive: false, exitFile: false, runtimeKnows: false, outcome: .unknown),
    .init(record: .exited, shimAlive: false, exitFile: true, runtimeKnows: false, outcome: .unchanged),
  ]

  @Test(arguments: rows) func aContainerAfterARestart(_ row: Row) async throws {
    let node = try FakeNode()
    let sandbox = try await node.manager.runPodSandbox(LifecycleFixtures.pod(), handler: "")
    let id = try await node.manager.createContainer(sandboxID: sandbox, config: LifecycleFixtures.container())
    if row.record == .running || row.record == .exited { try await node.manager.startContainer(id) }
    if row.record == .exited { try await node.manager.stopContainer(id, timeout: 0) }
    var record = try #require(try node.store.container(id: id))
    if row.record == .creating {
      record.state = .creating
      try node.store.putContainer(record)
    }
    let bundle = node.bundle(id)
    if row.exitFile && row.record != .exited { try AtomicFile.write("exit_code=137\nsignal=9\nfinished_at=5\n", to: bundle + "/exit") }
    if !row.shimAlive { node.host.shims.gone.insert(bundle) }
    if !row.runtimeKnows { node.host.runtime.forgotten.insert(id) }
    let before = try #require(try node.store.container(id: id))

    await node.manager.recover()

    let after = try node.store.container(id: id)
    switch row.outcome {
    case .gone:
      #expect(after == nil)
      #expect(node.host.rootfs.prepared == [sandbox])
    case .unchanged:
      #expect(after?.state == before.state)
      #expect(after?.exitCode == before.exitCode)
    case .exited(let code):
      #expect(after?.state == .exited)
      #expect(after?.exitCode == code)
    case .unknown:
      #expect(after?.state == .unknown)
      #expect(after?.message == "its shim is gone and no exit was recorded")
    }
  }

  @Test func aSandboxAfterARestart() async throws {
    let node = try FakeNode()
    let alive = try await node.manager.runPodSandbox(LifecycleFixtures.pod("alive"), handler: "")
    let shimless = try await node.manager.runPodSandbox(LifecycleFixtures.pod("shimless"), handler: "")
    let exited = try await node.manager.runPodSandbox(LifecycleFixtures.pod("exited"), handler: "")
    let half = try await node.manager.runPodSandbox(LifecycleFixtures.pod("half"), handler: "")
    node.host.shims.gone.insert(node.bundle(shimless))
    try AtomicFile.write("exit_code=0\nfinished_at=5\n", to: node.bundle(exited) + "/exit")
    var record = try #require(try node.store.sandbox(id: half))
    record.state = .creating
    try node.store.putSandbox(record)

    await node.manager.recover()

    #expect(try node.store.sandbox(id: alive)?.state == .ready)
    #expect(try node.store.sandbox(id: shimless)?.state == .notready)
    #expect(try node.store.sandbox(id: exited)?.state == .notready)
    #expect(try node.store.sandbox(id: half) == nil)
    #expect(!node.host.namespaces.pinned.contains { $0.hasSuffix(half) })
    #expect(!node.host.network.attached.contains { $0.contains(half) })
  }

  @Test func bundlesTheStoreDoesNotKnowAreRemoved() async throws {
    let node = try FakeNode()
    let orphan = node.bundle(String(repeating: "a", count: 64))
    try FilePath.makeDirectories(orphan + "/rootfs", mode: 0o700)
    await node.manager.recover()
    #expect(LifecycleFixtures.entries(node.directory + "/state/containers") == [])
    #expect(node.host.log.names == ["shims.killCreating", "mounts.unmount", "mounts.unmountAll"])
  }
}
