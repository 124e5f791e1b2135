import CrispCore
import Glibc
import Runtime
import RuntimeFakes
import Store
import Testing

/// CreateContainer, StartContainer, StopContainer and RemoveContainer on fakes: every step failing in turn,
/// with the exact undo, the record left and the error returned.
@Suite struct ContainerLifecycleRollbackTests {
  /// A node with a ready sandbox; the log starts empty.
  static func podNode() async throws -> (FakeNode, String) {
    let node = try FakeNode()
    let sandbox = try await node.manager.runPodSandbox(LifecycleFixtures.pod(), handler: "")
    node.host.log.clear()
    return (node, sandbox)
  }

  /// What the sandbox itself holds on the fake host (a container's leftovers are anything beyond it).
  static func sandboxHoldings(_ node: FakeNode) -> [String] { LifecycleFixtures.leftovers(node) }

  @Test func aContainerIsCreatedAndStartedInOrder() async throws {
    let (node, sandbox) = try await Self.podNode()
    let id = try await node.manager.createContainer(sandboxID: sandbox, config: LifecycleFixtures.container())
    #expect(node.host.log.names == ["rootfs.prepare", "shims.start", "mounts.removeStaging"])
    #expect(try node.manager.container(id)?.record.state == .created)
    try await node.manager.startContainer(id)
    #expect(node.host.log.names.last == "runtime.start")
    #expect(try node.manager.container(id)?.record.state == .running)
  }

  static let createUndos: [(failing: String, undo: [String])] = [
    ("rootfs.prepare", ["mounts.unmountAll"]),
    ("shims.start", ["mounts.removeStaging", "runtime.delete", "rootfs.remove", "mounts.unmountAll"]),
  ]

  @Test(arguments: 0..<2) func aFailingCreateStepUndoesTheStepsBeforeIt(_ index: Int) async throws {
    let (failing, undo) = Self.createUndos[index]
    let (node, sandbox) = try await Self.podNode()
    let before = Self.sandboxHoldings(node)
    node.host.log.fail(failing)
    let error = await LifecycleFixtures.error { () async throws(CrispError) in
      _ = try await node.manager.createContainer(sandboxID: sandbox, config: LifecycleFixtures.container())
    }
    #expect(error?.message == HostCallLog.injected(failing).message)
    #expect(node.host.log.names(after: failing) == undo)
    #expect(try node.store.allContainers().isEmpty)
    #expect(Self.sandboxHoldings(node) == before)
    // The name was released.
    _ = try await node.manager.createContainer(sandboxID: sandbox, config: LifecycleFixtures.container())
  }

  @Test func createRefusesBadInputBeforeAnyStep() async throws {
    let (node, sandbox) = try await Self.podNode()
    var relativeDevice = LifecycleFixtures.container()
    relativeDevice.devices = [DeviceRequest(containerPath: "dev/null", hostPath: "/dev/null", permissions: "")]
    var missing = LifecycleFixtures.container()
    missing.image.image = "docker.io/library/absent:1"
    var escaping = LifecycleFixtures.container()
    escaping.logPath = "../x.log"
    let cases: [(String, ContainerSpec, CrispError.Code, String)] = [
      (sandbox, relativeDevice, .invalidArgument, "config.devices[0].container_path \"dev/null\" must be an absolute path"),
      (sandbox, missing, .notFound, "config.image.image \"docker.io/library/absent:1\": image not found (pull it first)"),
      (sandbox, escaping, .invalidArgument, "log_path \"../x.log\" is set but the sandbox has no log_directory"),
      (
        String(repeating: "f", count: 64), LifecycleFixtures.container(), .notFound,
        "pod_sandbox_id \"\(String(repeating: "f", count: 64))\": no such sandbox"
      ),
    ]
    for (sandboxID, config, code, message) in cases {
      let error = await LifecycleFixtures.error { () async throws(CrispError) in
        _ = try await node.manager.createContainer(sandboxID: sandboxID, config: config)
      }
      #expect(error?.code == code)
      #expect(error?.message == message)
    }
    #expect(node.host.log.names.isEmpty)
    #expect(try node.store.allContainers().isEmpty)
  }

  @Test func aFailedStartLeavesTheContainerExitedWithTheRuntimesMessage() async throws {
    let (node, sandbox) = try await Self.podNode()
    let id = try await node.manager.createContainer(sandboxID: sandbox, config: LifecycleFixtures.container())
    node.host.log.clear()
    node.host.log.fail("runtime.start")
    let error = await LifecycleFixtures.error { () async throws(CrispError) in try await node.manager.startContainer(id) }
    #expect(error?.message == HostCallLog.injected("runtime.start").message)
    #expect(node.host.log.names(after: "runtime.start") == ["runtime.kill", "runtime.delete", "shims.waitForExit"])
    let record = try #require(try node.manager.container(id)?.record)
    #expect(record.state == .exited)
    #expect(record.exitCode == 128)
    #expect(record.reason == "StartError")
    #expect(record.message == HostCallLog.injected("runtime.start").message)
    // Starting it again is refused: it is no longer created.
    let again = await LifecycleFixtures.error { () async throws(CrispError) in try await node.manager.startContainer(id) }
    #expect(again?.code == .failedPrecondition)
  }

  @Test func stopSignalsThroughTheShimAndFallsBackToTheRuntime() async throws {
    let (node, sandbox) = try await Self.podNode()
    let first = try await node.manager.createContainer(sandboxID: sandbox, config: LifecycleFixtures.container("a"))
    let second = try await node.manager.createContainer(sandboxID: sandbox, config: LifecycleFixtures.container("b"))
    try await node.manager.startContainer(first)
    try await node.manager.startContainer(second)
    node.host.log.clear()
    try await node.manager.stopContainer(first, timeout: 30)
    #expect(node.host.log.names == ["shims.signal", "shims.waitForExit"])
    #expect(try node.manager.container(first)?.record.exitCode == 128 + SIGTERM)
    node.host.log.clear()
    node.host.log.fail("shims.signal")
    try await node.manager.stopContainer(second, timeout: 30)
    #expect(node.host.log.names == ["shims.signal", "runtime.kill", "shims.waitForExit"])
    #expect(try node.manager.container(second)?.record.state == .exited)
  }

  @Test func aContainerThatDoesNotDieIsAnErrorAndStaysRunning() async throws {
    let (node, sandbox) = try await Self.podNode()
    let id = try await node.manager.createContainer(sandboxID: sandbox, config: LifecycleFixtures.container())
    try await node.manager.startContainer(id)
    node.host.log.clear()
    node.host.log.fail("shims.signal", times: nil)
    node.host.log.fail("runtime.kill", times: nil)
    let error = await LifecycleFixtures.error { () async throws(CrispError) in try await node.manager.stopContainer(id, timeout: 5) }
    #expect(error?.code == .internal)
    #expect(error?.message == "container \(id) did not exit after SIGKILL")
    #expect(node.host.log.names == ["shims.signal", "runtime.kill", "shims.waitForExit", "runtime.kill", "shims.waitForExit"])
    #expect(try node.manager.container(id)?.record.state == .running)
  }

  @Test func aFailedRemovalKeepsTheRecordAndARetryFinishesIt() async throws {
    let (node, sandbox) = try await Self.podNode()
    let before = Self.sandboxHoldings(node)
    let id = try await node.manager.createContainer(sandboxID: sandbox, config: LifecycleFixtures.container())
    try await node.manager.startContainer(id)
    node.host.log.clear()
    node.host.log.fail("rootfs.remove")
    let error = await LifecycleFixtures.error { () async throws(CrispError) in try await node.manager.removeContainer(id) }
    #expect(error?.message == HostCallLog.injected("rootfs.remove").message)
    #expect(try node.store.container(id: id) != nil)
    try await node.manager.removeContainer(id)
    #expect(try node.store.container(id: id) == nil)
    #expect(node.host.log.names.suffix(2) == ["runtime.deleteStopped", "rootfs.remove"])
    #expect(Self.sandboxHoldings(node) == before)
    // Idempotent: removing it again is not an error.
    try await node.manager.removeContainer(id)
  }

  @Test func removingAPodStopsAndRemovesEverythingInIt() async throws {
    let (node, sandbox) = try await Self.podNode()
    let id = try await node.manager.createContainer(sandboxID: sandbox, config: LifecycleFixtures.container())
    try await node.manager.startContainer(id)
    node.host.log.fail("network.detach")
    let error = await LifecycleFixtures.error { () async throws(CrispError) in try await node.manager.stopPodSandbox(sandbox) }
    #expect(error?.message == HostCallLog.injected("network.detach").message)
    // The pod is stopped but keeps its attachment for the next stop to release.
    #expect(try node.manager.sandbox(sandbox)?.record.state == .notready)
    #expect(node.host.network.attached.count == 1)
    node.host.log.fail("netns.remove")
    let removal = await LifecycleFixtures.error { () async throws(CrispError) in try await node.manager.removePodSandbox(sandbox) }
    #expect(removal?.message == HostCallLog.injected("netns.remove").message)
    #expect(try node.store.sandbox(id: sandbox) != nil)
    try await node.manager.removePodSandbox(sandbox)
    #expect(try node.store.allSandboxes().isEmpty)
    #expect(try node.store.allContainers().isEmpty)
    #expect(LifecycleFixtures.leftovers(node) == [])
  }
}
