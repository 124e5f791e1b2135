import CRIAPI
import Foundation
import Testing
import TestSupport

/// A pod whose pause process dies by itself turns NOTREADY in the next lists and in its status: lists look
/// only at pods whose pause may have exited (one inotify watch per ready pod), so this shows the watch
/// sees the exit, for unfiltered, filtered and state-filtered lists alike.
@Suite(.serialized) struct PauseExitTests {
  @Test func aDeadPauseMakesThePodNotReadyInEveryList() async throws {
    try await PodHarness.with { pods in
      let config = pods.podConfig("doomed", labels: ["app": "doomed"])
      let doomed = try await pods.runPod(config)
      let survivor = try await pods.runPod(pods.podConfig("survivor", labels: ["app": "survivor"]))
      try await pods.runtime { runtime in
        // Lists before the death: whatever they remembered must not hide it afterwards.
        #expect(try await runtime.listPodSandbox(.init()).items.allSatisfy { $0.state == .sandboxReady })
        #expect(try await runtime.listPodSandbox(.with { $0.filter.labelSelector = ["app": "doomed"] }).items.first?.state == .sandboxReady)
        let info =
          try await runtime.podSandboxStatus(
            .with {
              $0.podSandboxID = doomed; $0.verbose = true
            }
          ).info["info"] ?? ""
        let object = try #require(try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])
        let pid = try #require(object["pid"] as? Int32)
        #expect(pid > 1)
        #expect(kill(pid, SIGKILL) == 0)

        var states: [String: Runtime_V1_PodSandboxState] = [:]
        for _ in 0..<100 {
          states = Dictionary(uniqueKeysWithValues: try await runtime.listPodSandbox(.init()).items.map { ($0.id, $0.state) })
          if states[doomed] == .sandboxNotready { break }
          try await Task.sleep(for: .milliseconds(100))
        }
        #expect(states[doomed] == .sandboxNotready, "\(states)")
        #expect(states[survivor] == .sandboxReady)
        #expect(try await runtime.listPodSandbox(.with { $0.filter.labelSelector = ["app": "doomed"] }).items.first?.state == .sandboxNotready)
        #expect(try await runtime.listPodSandbox(.with { $0.filter.state.state = .sandboxReady }).items.map(\.id) == [survivor])
        #expect(try await runtime.podSandboxStatus(.with { $0.podSandboxID = doomed }).status.state == .sandboxNotready)
        for pod in [doomed, survivor] {
          _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = pod })
          _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = pod })
        }
      }
    }
  }
}
