import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// Container and pod stats from the real cgroups, writable layers and the pod's interfaces.
@Suite(.serialized) struct StatsTests {
  @Test func containerAndPodStatsReflectWhatRuns() async throws {
    try await PodHarness.with { pods in
      var podConfig = pods.podConfig("stats", labels: ["app": "stats"])
      // A cgroup of the pod's own under the harness's parent, as kubelet gives every pod.
      podConfig.linux.cgroupParent = pods.cgroupParent + "/pod-stats"
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("busy", command: ["/bin/sh", "-c", "dd if=/dev/zero of=/tmp/blob bs=1M count=8 2>/dev/null; while :; do :; done"])
      config.labels["role"] = "busy"
      let busy = try await pods.runContainer(pod, podConfig, config)
      let idle = try await pods.runContainer(pod, podConfig, pods.containerConfig("idle", command: ["/bin/sleep", "1000"]))
      _ = try await pods.exec(idle, ["/bin/ping", "-c", "2", "-W", "2", pods.network.gateway])
      try await Task.sleep(for: .milliseconds(800))

      let first = try await pods.runtime { try await $0.containerStats(.with { $0.containerID = busy }).stats }
      #expect(first.attributes.id == busy)
      #expect(first.attributes.metadata.name == "busy")
      #expect(first.attributes.labels["role"] == "busy")
      #expect(first.cpu.usageCoreNanoSeconds.value > 100_000_000, "\(first.cpu)")
      #expect(first.memory.workingSetBytes.value > 0)
      #expect(first.memory.usageBytes.value >= first.memory.workingSetBytes.value)
      #expect(first.writableLayer.usedBytes.value >= 8 << 20, "\(first.writableLayer)")
      #expect(first.writableLayer.inodesUsed.value >= 1)
      #expect(!first.writableLayer.fsID.mountpoint.isEmpty)
      try await Task.sleep(for: .milliseconds(500))
      let second = try await pods.runtime { try await $0.containerStats(.with { $0.containerID = busy }).stats }
      // A busy loop uses most of a core between the two readings.
      #expect(second.cpu.usageNanoCores.value > 300_000_000, "\(second.cpu)")
      #expect(second.cpu.usageCoreNanoSeconds.value > first.cpu.usageCoreNanoSeconds.value)

      let listed = try await pods.runtime { try await $0.listContainerStats(.with { $0.filter.podSandboxID = pod }).stats }
      #expect(Set(listed.map(\.attributes.id)) == [busy, idle])
      let labelled = try await pods.runtime { try await $0.listContainerStats(.with { $0.filter.labelSelector = ["role": "busy"] }).stats }
      #expect(labelled.map(\.attributes.id) == [busy])
      let streamed = try await pods.daemon.withClients { runtime, _ in
        try await runtime.streamContainerStats(.with { $0.filter.id = idle }) { response in
          var ids: [String] = []
          for try await message in response.messages { ids += message.containerStats.map(\.attributes.id) }
          return ids
        }
      }
      #expect(streamed == [idle])

      let podStats = try await pods.runtime { try await $0.podSandboxStats(.with { $0.podSandboxID = pod }).stats }
      #expect(podStats.attributes.id == pod)
      #expect(podStats.attributes.labels["app"] == "stats")
      #expect(podStats.linux.cpu.usageCoreNanoSeconds.value >= first.cpu.usageCoreNanoSeconds.value)
      #expect(podStats.linux.memory.workingSetBytes.value > 0)
      #expect(podStats.linux.process.processCount.value >= 3, "\(podStats.linux.process)")
      #expect(podStats.linux.containers.count == 2)
      #expect(podStats.linux.network.defaultInterface.name == "eth0")
      #expect(podStats.linux.network.defaultInterface.rxBytes.value > 0)
      #expect(podStats.linux.network.defaultInterface.txBytes.value > 0)
      let podList = try await pods.runtime { try await $0.listPodSandboxStats(.with { $0.filter.labelSelector = ["app": "stats"] }).stats }
      #expect(podList.map(\.attributes.id) == [pod])
      #expect(try await pods.runtime { try await $0.listPodSandboxStats(.with { $0.filter.labelSelector = ["app": "none"] }).stats }.isEmpty)

      for (call, code) in [("missing", RPCError.Code.notFound), ("", .invalidArgument)] {
        do {
          _ = try await pods.runtime { try await $0.containerStats(.with { $0.containerID = call }) }
          Issue.record("stats of \"\(call)\" answered")
        } catch let error as RPCError {
          #expect(error.code == code)
        }
      }
    }
  }
}
