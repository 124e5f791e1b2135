import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

@Suite(.serialized) struct BadInputTests {
  /// Each bad request fails with the right code and a message naming the field, and leaves no mount,
  /// network namespace, shim or cgroup behind; the daemon keeps serving.
  @Test func badRequestsAreRefusedAndLeakNothing() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("bad")
      let pod = try await pods.runPod(podConfig)
      let before = HostSnapshot.take(under: pods.daemon.directory)

      func expectFailure(_ code: RPCError.Code, _ fragment: String, _ body: @Sendable () async throws -> Void) async {
        do {
          try await body()
          Issue.record("expected \(code) mentioning \(fragment)")
        } catch let error as RPCError {
          #expect(error.code == code, "\(error.message)")
          #expect(error.message.contains(fragment), "\(error.message) lacks \(fragment)")
        } catch {
          Issue.record("unexpected \(error)")
        }
        let after = HostSnapshot.take(under: pods.daemon.directory)
        #expect(after == before, "leaked: \(after) vs \(before)")
      }

      await expectFailure(.invalidArgument, "metadata.name") {
        var config = pods.podConfig("x")
        config.metadata.name = ""
        _ = try await pods.runPod(config)
      }
      await expectFailure(.invalidArgument, "metadata.uid") {
        var config = pods.podConfig("x")
        config.metadata.uid = ""
        _ = try await pods.runPod(config)
      }
      await expectFailure(.invalidArgument, "runtime_handler \"nonexistent\"") {
        _ = try await pods.runPod(pods.podConfig("x"), handler: "nonexistent")
      }
      await expectFailure(.alreadyExists, "is reserved") {
        _ = try await pods.runPod(podConfig)
      }
      await expectFailure(.invalidArgument, "config.image.image") {
        var config = pods.containerConfig("noimage", command: ["/bin/true"])
        config.image.image = ""
        _ = try await pods.runContainer(pod, podConfig, config)
      }
      await expectFailure(.notFound, "image not found") {
        var config = pods.containerConfig("missing", command: ["/bin/true"])
        config.image.image = "\(pods.registry.host)/not/pulled:1"
        _ = try await pods.runContainer(pod, podConfig, config)
      }
      await expectFailure(.notFound, "no such sandbox") {
        _ = try await pods.runContainer(String(repeating: "a", count: 64), podConfig, pods.containerConfig("orphan", command: ["/bin/true"]))
      }
      await expectFailure(.invalidArgument, "log_path") {
        var config = pods.containerConfig("escape", command: ["/bin/true"])
        config.logPath = "../../escape.log"
        _ = try await pods.runContainer(pod, podConfig, config)
      }
      await expectFailure(.invalidArgument, "mounts[0].host_path \"/nonexistent/crisp/path\"") {
        var config = pods.containerConfig("mount", command: ["/bin/true"])
        config.mounts = [
          .with {
            $0.hostPath = "/nonexistent/crisp/path"; $0.containerPath = "/data"
          }
        ]
        _ = try await pods.runContainer(pod, podConfig, config)
      }
      await expectFailure(.invalidArgument, "container_path \"relative\"") {
        var config = pods.containerConfig("relative", command: ["/bin/true"])
        config.mounts = [
          .with {
            $0.hostPath = "/tmp"; $0.containerPath = "relative"
          }
        ]
        _ = try await pods.runContainer(pod, podConfig, config)
      }
      await expectFailure(.internalError, "/no/such/program") {
        _ = try await pods.runContainer(pod, podConfig, pods.containerConfig("nocmd", command: ["/no/such/program"]))
      }
      await expectFailure(.invalidArgument, "command") {
        var config = pods.containerConfig("empty", command: [])
        config.image.image = pods.image
        config.args = []
        // The test image has Cmd ["/bin/sh"]; clear it out of reach by giving an empty command explicitly.
        config.command = [""]
        _ = try await pods.runContainer(pod, podConfig, config)
      }
      await expectFailure(.notFound, "not found") {
        _ = try await pods.runtime { try await $0.containerStatus(.with { $0.containerID = String(repeating: "b", count: 64) }) }
      }
      await expectFailure(.notFound, "not found") {
        _ = try await pods.runtime { try await $0.podSandboxStatus(.with { $0.podSandboxID = String(repeating: "c", count: 64) }) }
      }
      await expectFailure(.invalidArgument, "container_id") {
        _ = try await pods.runtime { try await $0.containerStatus(.init()) }
      }
      // A duplicate container name in one pod.
      let first = try await pods.runContainer(pod, podConfig, pods.containerConfig("dup", command: ["/bin/sleep", "100"]))
      let withFirst = HostSnapshot.take(under: pods.daemon.directory)
      do {
        _ = try await pods.runContainer(pod, podConfig, pods.containerConfig("dup", command: ["/bin/sleep", "100"]))
        Issue.record("a duplicate name was accepted")
      } catch let error as RPCError {
        #expect(error.code == .alreadyExists)
      }
      #expect(HostSnapshot.take(under: pods.daemon.directory) == withFirst)
      // The daemon still serves.
      #expect(try await pods.status(first).state == .containerRunning)
    }
  }
}

@Suite(.serialized) struct RecoveryTests {
  @Test func containersSurviveKill9AndARestartRecoversThem() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("survivor")
      let pod = try await pods.runPod(podConfig)
      let running = try await pods.runContainer(
        pod, podConfig, pods.containerConfig("running", command: ["/bin/sh", "-c", "while true; do echo tick; sleep 0.2; done"]))
      let exiting = try await pods.runContainer(pod, podConfig, pods.containerConfig("exiting", command: ["/bin/sh", "-c", "sleep 1; exit 7"]))
      let logPath = try await pods.status(running).logPath

      pods.daemon.signal(SIGKILL)
      _ = try pods.daemon.waitForExit()
      // While the daemon is down the containers keep running and logging; one exits.
      let size = (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0
      try await Task.sleep(for: .milliseconds(1500))
      let grown = (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0
      #expect(grown > size)

      try pods.daemon.start()
      #expect(try await pods.status(running).state == .containerRunning)
      let exited = try await pods.status(exiting)
      #expect(exited.state == .containerExited)
      #expect(exited.exitCode == 7)
      #expect(try await pods.exec(running, ["/bin/echo", "still here"]).stdout == Data("still here\n".utf8))
      let state = try await pods.runtime { try await $0.podSandboxStatus(.with { $0.podSandboxID = pod }).status.state }
      #expect(state == .sandboxReady)
    }
  }

  /// A runtime wrapper that pauses before running runc's create, so the daemon can be killed mid-create.
  /// Written into a directory of the test's own, which the test removes.
  private static func slowRuntime(in directory: String) -> String {
    let path = directory + "/slow-runc.sh"
    try? "#!/bin/sh\ncase \"$*\" in *create*) sleep 3;; esac\nexec /usr/bin/runc \"$@\"\n".write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
    return path
  }

  @Test func killedMidRunPodSandboxIsRolledBack() async throws {
    let scratch = try TestEnvironment.temporaryDirectory("crisp-slow")
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let slow = Self.slowRuntime(in: scratch)
    try await PodHarness.with(
      extraConfig: "[runtime.handlers.runc]\nbinary = \"/usr/bin/runc\"\n[runtime.handlers.slow]\nbinary = \"\(slow)\"\n",
      { pods in
        let config = pods.podConfig("interrupted")
        let attempt = Task { try? await pods.runPod(config, handler: "slow") }
        try await Task.sleep(for: .milliseconds(1500))
        pods.daemon.signal(SIGKILL)
        _ = try pods.daemon.waitForExit()
        attempt.cancel()  // the call lost its server; it is not waited for
        try pods.daemon.start()
        try await Task.sleep(for: .milliseconds(3500))
        try await pods.runtime { runtime in
          #expect(try await runtime.listPodSandbox(.init()).items.isEmpty)
          // The name is free again: the same pod can be created.
          let id = try await runtime.runPodSandbox(.with { $0.config = config }).podSandboxID
          _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = id })
          _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = id })
        }
        #expect(HostSnapshot.take(under: pods.daemon.directory) == .clean)
        await pods.cleanUp()
        #expect(pods.leftoverCgroups.isEmpty, "\(pods.leftoverCgroups)")
      })
  }

  @Test func killedMidCreateContainerIsRolledBack() async throws {
    let scratch = try TestEnvironment.temporaryDirectory("crisp-slow")
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let slow = Self.slowRuntime(in: scratch)
    try await PodHarness.with(
      extraConfig: "[runtime.handlers.runc]\nbinary = \"/usr/bin/runc\"\n[runtime.handlers.slow]\nbinary = \"\(slow)\"\n",
      { pods in
        let podConfig = pods.podConfig("half")
        // The pause container of a "slow" pod takes 3 s to create; its containers too.
        let pod = try await pods.runPod(podConfig, handler: "slow")
        let attempt = Task { try? await pods.runContainer(pod, podConfig, pods.containerConfig("interrupted", command: ["/bin/sleep", "100"])) }
        try await Task.sleep(for: .milliseconds(1500))
        pods.daemon.signal(SIGKILL)
        _ = try pods.daemon.waitForExit()
        attempt.cancel()  // the call lost its server; it is not waited for
        try pods.daemon.start()
        try await Task.sleep(for: .milliseconds(3500))
        let containers = try await pods.runtime { try await $0.listContainers(.init()).containers }
        #expect(containers.isEmpty)
        let state = try await pods.runtime { try await $0.podSandboxStatus(.with { $0.podSandboxID = pod }).status.state }
        #expect(state == .sandboxReady)
        // Only the pause container's shim and mounts remain.
        let snapshot = HostSnapshot.take(under: pods.daemon.directory)
        #expect(snapshot.shims.count == 1, "\(snapshot.shims)")
        #expect(snapshot.mounts.filter { $0.hasSuffix("/rootfs") }.count == 1, "\(snapshot.mounts)")
      })
  }
}
