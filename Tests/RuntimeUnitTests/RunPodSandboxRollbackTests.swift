import CrispCore
import Runtime
import RuntimeFakes
import Store
import Testing

/// RunPodSandbox failing at each step in turn: the steps already done are undone in reverse, the record and
/// its name are gone, nothing is left on the (fake) host, and the caller gets the failing step's error.
@Suite struct RunPodSandboxRollbackTests {
  /// The host calls of a successful RunPodSandbox, in order (CNI ADD runs beside the pause container).
  static let steps = ["network.requireReady", "netns.create", "mounts.tmpfs", "rootfs.prepare", "shims.start", "runtime.start"]

  @Test func aSandboxIsMadeInOrder() async throws {
    let node = try FakeNode()
    let id = try await node.manager.runPodSandbox(LifecycleFixtures.pod(), handler: "")
    #expect(node.host.log.names.filter { $0 != "network.attach" } == Self.steps)
    #expect(node.host.log.names.contains("network.attach"))
    let view = try #require(try node.manager.sandbox(id))
    #expect(view.record.state == .ready)
    #expect(view.record.ips == ["10.88.0.7"])
    #expect(node.host.runtime.containers.status(id) == .running)
  }

  /// Failing call → the undo calls that must follow it, newest step first.
  static let undos: [(failing: String, undo: [String])] = [
    ("network.requireReady", []),
    ("netns.create", []),
    ("network.attach", ["runtime.delete", "rootfs.remove", "mounts.unmount", "network.detach", "netns.remove"]),
    ("mounts.tmpfs", ["network.detach", "netns.remove"]),
    ("rootfs.prepare", ["mounts.unmount", "network.detach", "netns.remove"]),
    ("shims.start", ["runtime.delete", "rootfs.remove", "mounts.unmount", "network.detach", "netns.remove"]),
    ("runtime.start", ["runtime.delete", "rootfs.remove", "mounts.unmount", "network.detach", "netns.remove"]),
  ]

  @Test(arguments: 0..<7) func aFailingStepUndoesTheStepsBeforeItInReverse(_ index: Int) async throws {
    let (failing, undo) = Self.undos[index]
    let node = try FakeNode()
    node.host.log.fail(failing)
    let error = await LifecycleFixtures.error { () async throws(CrispError) in
      _ = try await node.manager.runPodSandbox(LifecycleFixtures.pod(), handler: "")
    }
    #expect(error?.code == .internal)
    #expect(error?.message == HostCallLog.injected(failing).message)
    // CNI ADD runs concurrently with the pause container: its own position in the log is not fixed.
    #expect(node.host.log.names(after: failing).filter { $0 != "network.attach" } == undo)
    #expect(try node.store.allSandboxes().isEmpty)
    #expect(LifecycleFixtures.leftovers(node) == [])
    // The name was released: the same pod can be run again.
    _ = try await node.manager.runPodSandbox(LifecycleFixtures.pod(), handler: "")
  }

  @Test func anUndoThatFailsKeepsTheSandboxNotReadyForKubeletToRemove() async throws {
    let node = try FakeNode()
    node.host.log.fail("runtime.start")
    node.host.log.fail("network.detach")
    let error = await LifecycleFixtures.error { () async throws(CrispError) in
      _ = try await node.manager.runPodSandbox(LifecycleFixtures.pod(), handler: "")
    }
    #expect(error?.message == HostCallLog.injected("runtime.start").message)
    let listed = try node.manager.sandboxes()
    #expect(listed.map(\.record.state) == [.notready])
    // The attachment whose DEL failed is what is left, and what removal retries.
    #expect(node.host.network.attached.count == 1)
    let id = try #require(listed.first?.record.id)
    try await node.manager.removePodSandbox(id)
    #expect(try node.store.allSandboxes().isEmpty)
    #expect(LifecycleFixtures.leftovers(node) == [])
  }

  @Test func aRequestRefusedBeforeAnyStepLeavesNoRecord() async throws {
    let node = try FakeNode()
    var config = LifecycleFixtures.pod()
    config.linux.sysctls = ["kernel.panic": "1"]
    let error = await LifecycleFixtures.error { () async throws(CrispError) in
      _ = try await node.manager.runPodSandbox(config, handler: "")
    }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.hasPrefix("config.linux.sysctls[\"kernel.panic\"]: not a namespaced sysctl") == true)
    #expect(node.host.log.names.isEmpty)
    let unknown = await LifecycleFixtures.error { () async throws(CrispError) in
      _ = try await node.manager.runPodSandbox(LifecycleFixtures.pod(), handler: "nope")
    }
    #expect(unknown?.code == .invalidArgument)
    #expect(unknown?.message.hasPrefix("runtime_handler \"nope\" is not configured") == true)
    #expect(try node.store.allSandboxes().isEmpty)
  }
}
