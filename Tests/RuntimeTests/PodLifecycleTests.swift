import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// Pod sandboxes and containers end to end over the socket, with real runc and crisp-shim.
@Suite(.serialized) struct PodLifecycleTests {
  @Test func sandboxLifecycleAndFilters() async throws {
    try await PodHarness.with { pods in
      let config = pods.podConfig("web", labels: ["app": "web", "tier": "front"])
      let id = try await pods.runPod(config)
      #expect(id.count == 64)

      try await pods.runtime { runtime in
        let status = try await runtime.podSandboxStatus(
          .with {
            $0.podSandboxID = id; $0.verbose = true
          })
        #expect(status.status.state == .sandboxReady)
        #expect(status.status.metadata == config.metadata)
        #expect(status.status.labels == config.labels)
        #expect(status.status.annotations == config.annotations)
        #expect(status.status.createdAt > 0)
        #expect(status.status.runtimeHandler == "runc")
        #expect(status.info["info"]?.contains("\"pid\"") == true)

        let other = try await runtime.runPodSandbox(.with { $0.config = pods.podConfig("db", labels: ["app": "db"]) }).podSandboxID
        let all = try await runtime.listPodSandbox(.init()).items
        #expect(all.count == 2)
        // A filter both match is answered with the unfiltered list (the same entries, same order).
        #expect(try await runtime.listPodSandbox(.with { $0.filter.state.state = .sandboxReady }).items == all)
        #expect(try await runtime.listPodSandbox(.with { $0.filter.state.state = .sandboxNotready }).items.isEmpty)
        #expect(try await runtime.listPodSandbox(.with { $0.filter.id = id }).items.map(\.id) == [id])
        #expect(try await runtime.listPodSandbox(.with { $0.filter.id = String(id.prefix(12)) }).items.map(\.id) == [id])
        #expect(try await runtime.listPodSandbox(.with { $0.filter.labelSelector = ["app": "db"] }).items.map(\.id) == [other])
        // A short id works for status, as crictl sends it.
        #expect(try await runtime.podSandboxStatus(.with { $0.podSandboxID = String(id.prefix(12)) }).status.id == id)

        _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = id })
        #expect(try await runtime.podSandboxStatus(.with { $0.podSandboxID = id }).status.state == .sandboxNotready)
        #expect(try await runtime.listPodSandbox(.with { $0.filter.state.state = .sandboxReady }).items.map(\.id) == [other])
        #expect(try await runtime.listPodSandbox(.with { $0.filter.state.state = .sandboxNotready }).items.map(\.id) == [id])
        // Stop and remove are idempotent, also for ids that never existed.
        _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = id })
        _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = id })
        _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = id })
        _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = String(repeating: "f", count: 64) })
        _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = String(repeating: "f", count: 64) })
        do {
          _ = try await runtime.podSandboxStatus(.with { $0.podSandboxID = id })
          Issue.record("status of a removed sandbox answered")
        } catch let error as RPCError {
          #expect(error.code == .notFound)
        }
        _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = other })
      }
      #expect(HostSnapshot.take(under: pods.daemon.directory) == HostSnapshot(mounts: [], shims: [], netns: []))
    }
  }

  @Test func containerLifecycleLogsAndExec() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("app")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("main", command: ["/bin/sh", "-c", "echo hello; echo oops >&2; printf partial; exec sleep 1000"])
      config.envs = [
        .with {
          $0.key = "CRI_VAR"; $0.value = "cri"
        },
        .with {
          $0.key = "IMAGE_VAR"; $0.value = "overridden"
        },
      ]
      config.annotations = ["a": "b"]
      let id = try await pods.runContainer(pod, podConfig, config)

      let status = try await pods.status(id)
      #expect(status.state == .containerRunning)
      #expect(status.metadata.name == "main")
      #expect(status.labels == ["container": "main"])
      #expect(status.annotations == ["a": "b"])
      #expect(status.image.image == pods.image)
      #expect(status.imageRef.hasPrefix("sha256:"))
      #expect(status.logPath == podConfig.logDirectory + "/main.log")
      #expect(status.startedAt >= status.createdAt)

      // The CRI log file: `<RFC3339Nano> <stream> <P|F> <content>`.
      try await Task.sleep(for: .milliseconds(300))
      let log = try String(contentsOfFile: status.logPath, encoding: .utf8)
      let lines = log.split(separator: "\n").map(String.init)
      #expect(lines.count == 2, "\(log)")
      let pattern = #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z (stdout|stderr) (P|F) (.*)$/#
      for line in lines { #expect(line.wholeMatch(of: pattern) != nil, "\(line)") }
      #expect(lines.contains { $0.hasSuffix(" stdout F hello") })
      #expect(lines.contains { $0.hasSuffix(" stderr F oops") })
      // The unterminated "partial" is written when the stream ends (below).

      // ExecSync: output, exit codes, environment.
      let echo = try await pods.exec(id, ["/bin/sh", "-c", "echo out; echo err >&2; echo $CRI_VAR $IMAGE_VAR; exit 3"])
      #expect(String(decoding: echo.stdout, as: UTF8.self) == "out\ncri overridden\n")
      #expect(String(decoding: echo.stderr, as: UTF8.self) == "err\n")
      #expect(echo.exitCode == 3)
      let hostname = try await pods.exec(id, ["/bin/hostname"])
      #expect(String(decoding: hostname.stdout, as: UTF8.self) == "app\n")

      // A command outliving its timeout is killed and the call ends promptly with DEADLINE_EXCEEDED.
      let start = ContinuousClock.now
      do {
        _ = try await pods.exec(id, ["/bin/sleep", "30"], timeout: 1)
        Issue.record("ExecSync past its timeout returned")
      } catch let error as RPCError {
        #expect(error.code == .deadlineExceeded)
      }
      // Well short of the command's 30 s (a busy 2-core CI machine needs a few seconds' slack).
      #expect(ContinuousClock.now - start < .seconds(10))
      let processes = try await pods.exec(id, ["/bin/sh", "-c", "ps -o comm | grep -c sleep"])
      #expect(String(decoding: processes.stdout, as: UTF8.self) == "1\n", "the timed-out sleep is still running")

      // Stop: SIGTERM is ignored by a shell's `sleep`... the process here is sleep itself (exec), which dies.
      try await pods.runtime {
        _ = try await $0.stopContainer(
          .with {
            $0.containerID = id; $0.timeout = 5
          })
      }
      let stopped = try await pods.status(id)
      #expect(stopped.state == .containerExited)
      #expect(stopped.exitCode == 143)
      #expect(stopped.reason == "Error")
      #expect(stopped.finishedAt >= stopped.startedAt)
      let finalLog = try String(contentsOfFile: status.logPath, encoding: .utf8)
      #expect(finalLog.split(separator: "\n").last?.hasSuffix(" stdout P partial") == true, "\(finalLog)")
      // Stop again, and remove twice: idempotent.
      try await pods.runtime { runtime in
        _ = try await runtime.stopContainer(.with { $0.containerID = id })
        _ = try await runtime.removeContainer(.with { $0.containerID = id })
        _ = try await runtime.removeContainer(.with { $0.containerID = id })
        _ = try await runtime.stopContainer(.with { $0.containerID = String(repeating: "e", count: 64) })
      }
      await pods.cleanUp()
      #expect(HostSnapshot.take(under: pods.daemon.directory) == HostSnapshot(mounts: [], shims: [], netns: []))
      #expect(pods.leftoverCgroups.isEmpty, "\(pods.leftoverCgroups)")
    }
  }

  @Test func exitCodesAndReasons() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("jobs")
      let pod = try await pods.runPod(podConfig)
      let ok = try await pods.runContainer(pod, podConfig, pods.containerConfig("ok", command: ["/bin/true"]))
      let fail = try await pods.runContainer(pod, podConfig, pods.containerConfig("fail", command: ["/bin/sh", "-c", "exit 3"]))
      let okStatus = try await pods.waitForExit(ok)
      #expect(okStatus.exitCode == 0)
      #expect(okStatus.reason == "Completed")
      let failStatus = try await pods.waitForExit(fail)
      #expect(failStatus.exitCode == 3)
      #expect(failStatus.reason == "Error")
      // A created, never started container can be removed.
      let created = try await pods.runtime { runtime in
        try await runtime.createContainer(
          .with {
            $0.podSandboxID = pod
            $0.config = pods.containerConfig("idle", command: ["/bin/true"])
            $0.sandboxConfig = podConfig
          }
        ).containerID
      }
      #expect(try await pods.status(created).state == .containerCreated)
      try await pods.runtime { runtime in
        let listed = try await runtime.listContainers(.with { $0.filter.podSandboxID = pod }).containers
        #expect(Set(listed.map(\.id)) == [ok, fail, created])
        #expect(try await runtime.listContainers(.with { $0.filter.state.state = .containerCreated }).containers.map(\.id) == [created])
        #expect(try await runtime.listContainers(.with { $0.filter.labelSelector = ["container": "fail"] }).containers.map(\.id) == [fail])
        _ = try await runtime.removeContainer(.with { $0.containerID = created })
      }
    }
  }

  /// kubelet's relist: ListContainers without a filter, every second. Its answer is reused while nothing
  /// changed, so every change (a new container, a start, an exit nobody asked about, a removal) must show.
  @Test func unfilteredListsFollowEveryChange() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("relist")
      let pod = try await pods.runPod(podConfig)
      @Sendable func listed() async throws -> [String: Runtime_V1_ContainerState] {
        try await pods.runtime { runtime in
          let containers = try await runtime.listContainers(.with { $0.filter = .init() }).containers
          return Dictionary(uniqueKeysWithValues: containers.map { ($0.id, $0.state) })
        }
      }
      #expect(try await listed().isEmpty)
      let short = try await pods.runContainer(pod, podConfig, pods.containerConfig("short", command: ["/bin/sh", "-c", "sleep 1; exit 7"]))
      let long = try await pods.runContainer(pod, podConfig, pods.containerConfig("long", command: ["/bin/sleep", "1000"]))
      let first = try await listed()
      #expect(first[long] == .containerRunning)
      #expect(first[short] == .containerRunning || first[short] == .containerExited)
      // Only lists are asked: the exit must reach them without a ContainerStatus call.
      var exited = false
      for _ in 0..<200 where !exited {
        exited = try await listed()[short] == .containerExited
        if !exited { try await Task.sleep(for: .milliseconds(50)) }
      }
      #expect(exited)
      #expect(try await listed()[long] == .containerRunning)
      try await pods.runtime { runtime in
        _ = try await runtime.stopContainer(
          .with {
            $0.containerID = long; $0.timeout = 0
          })
        #expect(try await listed()[long] == .containerExited)
        _ = try await runtime.removeContainer(.with { $0.containerID = short })
      }
      #expect(try await listed().keys.sorted() == [long])
    }
  }

  @Test func containersInOnePodShareTheNetwork() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("shared")
      let pod = try await pods.runPod(podConfig)
      let server = try await pods.runContainer(
        pod, podConfig,
        pods.containerConfig("server", command: ["/bin/sh", "-c", "mkdir -p /www && echo served > /www/index.html && exec httpd -f -p 8080 -h /www"]))
      let client = try await pods.runContainer(pod, podConfig, pods.containerConfig("client", command: ["/bin/sleep", "1000"]))
      var body = ""
      for _ in 0..<50 {
        let fetched = try await pods.exec(client, ["/bin/wget", "-q", "-O", "-", "http://127.0.0.1:8080/"])
        body = String(decoding: fetched.stdout, as: UTF8.self)
        if body == "served\n" { break }
        try await Task.sleep(for: .milliseconds(100))
      }
      #expect(body == "served\n")
      // Each container logs to its own file; exec works in each.
      #expect(try await pods.exec(server, ["/bin/echo", "in server"]).stdout == Data("in server\n".utf8))
      let serverLog = try await pods.status(server).logPath
      let clientLog = try await pods.status(client).logPath
      #expect(serverLog != clientLog)
      #expect(FileManager.default.fileExists(atPath: serverLog) && FileManager.default.fileExists(atPath: clientLog))
    }
  }

  @Test func reopenContainerLogAfterRotation() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("logs")
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(
        pod, podConfig, pods.containerConfig("ticker", command: ["/bin/sh", "-c", "while true; do echo tick; sleep 0.1; done"]))
      let path = try await pods.status(id).logPath
      try await Task.sleep(for: .milliseconds(300))
      try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
      try await pods.runtime { _ = try await $0.reopenContainerLog(.with { $0.containerID = id }) }
      try await Task.sleep(for: .milliseconds(400))
      let fresh = try String(contentsOfFile: path, encoding: .utf8)
      #expect(fresh.contains("stdout F tick"))

      // Not running: FAILED_PRECONDITION, and no file appears.
      try await pods.runtime {
        _ = try await $0.stopContainer(
          .with {
            $0.containerID = id; $0.timeout = 0
          })
      }
      try FileManager.default.removeItem(atPath: path)
      do {
        try await pods.runtime { _ = try await $0.reopenContainerLog(.with { $0.containerID = id }) }
        Issue.record("reopen of a stopped container's log succeeded")
      } catch let error as RPCError {
        #expect(error.code == .failedPrecondition)
      }
      #expect(!FileManager.default.fileExists(atPath: path))
    }
  }
}
