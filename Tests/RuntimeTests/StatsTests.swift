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
      var config = pods.containerConfig(
        "busy", command: ["/bin/sh", "-c", "dd if=/dev/zero of=/tmp/blob bs=1M count=8 2>/dev/null; while :; do :; done"])
      config.labels["role"] = "busy"
      let busy = try await pods.runContainer(pod, podConfig, config)
      let idle = try await pods.runContainer(pod, podConfig, pods.containerConfig("idle", command: ["/bin/sleep", "1000"]))
      _ = try await pods.exec(idle, ["/bin/ping", "-c", "2", "-W", "2", pods.network.gateway])
      try await Task.sleep(for: .milliseconds(800))

      // Waited for first: each stats call is a CPU reading the next rate is computed from.
      let measured = try await WritableLayerWait.stats(pods, busy, bytes: 8 << 20)
      let first = try await pods.runtime { try await $0.containerStats(.with { $0.containerID = busy }).stats }
      #expect(first.attributes.id == busy)
      #expect(first.attributes.metadata.name == "busy")
      #expect(first.attributes.labels["role"] == "busy")
      #expect(first.cpu.usageCoreNanoSeconds.value > 100_000_000, "\(first.cpu)")
      #expect(first.memory.workingSetBytes.value > 0)
      #expect(first.memory.usageBytes.value >= first.memory.workingSetBytes.value)
      #expect(measured.writableLayer.usedBytes.value >= 8 << 20, "\(measured.writableLayer)")
      #expect(measured.writableLayer.inodesUsed.value >= 1)
      #expect(!measured.writableLayer.fsID.mountpoint.isEmpty)
      try await Task.sleep(for: .milliseconds(500))
      let second = try await pods.runtime { try await $0.containerStats(.with { $0.containerID = busy }).stats }
      // The rate is the CPU time used between the two readings over the time between them, whatever share
      // of a core the busy loop got on this machine (little, when other builds load it); it got some.
      #expect(second.cpu.usageCoreNanoSeconds.value > first.cpu.usageCoreNanoSeconds.value)
      let used = Double(second.cpu.usageCoreNanoSeconds.value - first.cpu.usageCoreNanoSeconds.value)
      let elapsed = Double(second.cpu.timestamp - first.cpu.timestamp)
      let rate = used / elapsed * 1e9
      #expect(elapsed > 0 && abs(Double(second.cpu.usageNanoCores.value) - rate) <= rate * 0.01 + 1000, "\(first.cpu) \(second.cpu)")
      #expect(second.cpu.usageNanoCores.value > 20_000_000, "\(second.cpu)")

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

  /// A container's writable-layer usage is the background walker's last measurement, with its time; the
  /// container filesystems of ImageFsInfo add them up, and a removed container's goes.
  @Test func writableLayerUsageIsMeasuredInTheBackground() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("layer-usage")
      let pod = try await pods.runPod(podConfig)
      let writer = try await pods.runContainer(
        pod, podConfig,
        pods.containerConfig(
          "writer", command: ["/bin/sh", "-c", "dd if=/dev/zero of=/tmp/written bs=1M count=6 2>/dev/null; touch /tmp/a /tmp/b; sleep 1000"]))
      let stats = try await WritableLayerWait.stats(pods, writer, bytes: 6 << 20, inodes: 3)
      #expect(stats.writableLayer.usedBytes.value >= 6 << 20, "\(stats.writableLayer)")
      #expect(stats.writableLayer.inodesUsed.value >= 3, "\(stats.writableLayer)")
      let now = Int64(Date().timeIntervalSince1970 * 1e9)
      // Measured, not made up at the call: a time in the last minute.
      #expect(stats.writableLayer.timestamp > now - 60_000_000_000 && stats.writableLayer.timestamp <= now, "\(stats.writableLayer)")

      let imageFs = { () async throws -> Runtime_V1_FilesystemUsage? in
        try await pods.daemon.withClients { _, images in try await images.imageFsInfo(.init()).containerFilesystems.first }
      }
      let withWriter = try await imageFs()
      #expect(withWriter?.usedBytes.value ?? 0 >= 6 << 20, "\(String(describing: withWriter))")
      #expect(withWriter?.inodesUsed.value ?? 0 >= 3)

      try await pods.runtime { runtime in
        _ = try await runtime.stopContainer(
          .with {
            $0.containerID = writer; $0.timeout = 0
          })
        _ = try await runtime.removeContainer(.with { $0.containerID = writer })
      }
      let removed = try await imageFs()
      #expect(removed?.usedBytes.value ?? UInt64.max < 6 << 20, "\(String(describing: removed))")
    }
  }

  /// ListPodSandboxMetrics: cAdvisor-named series per container and per pod, labels lined up with the
  /// descriptors, values from the same cgroups and interfaces as the stats.
  @Test func podSandboxMetricsFollowTheDescriptors() async throws {
    try await PodHarness.with { pods in
      var podConfig = pods.podConfig("metrics", labels: ["app": "metrics"])
      podConfig.linux.cgroupParent = pods.cgroupParent + "/pod-metrics"
      let pod = try await pods.runPod(podConfig)
      let busy = try await pods.runContainer(pod, podConfig, pods.containerConfig("spin", command: ["/bin/sh", "-c", "while :; do :; done"]))
      _ = try await pods.exec(busy, ["/bin/ping", "-c", "2", "-W", "2", pods.network.gateway])
      // The CPU counter is in whole seconds: wait until the busy loop has had more than one second of CPU,
      // however loaded this machine is (its share of a core varies; the counter's meaning does not).
      for _ in 0..<120 {
        let used = try await pods.runtime { try await $0.containerStats(.with { $0.containerID = busy }).stats.cpu.usageCoreNanoSeconds.value }
        if used > 1_100_000_000 { break }
        try await Task.sleep(for: .milliseconds(500))
      }

      let descriptors = try await pods.runtime { try await $0.listMetricDescriptors(.init()).descriptors }
      let keys = Dictionary(uniqueKeysWithValues: descriptors.map { ($0.name, $0.labelKeys) })
      let listed = try await pods.runtime { try await $0.listPodSandboxMetrics(.init()).podMetrics }
      let metrics = try #require(listed.first { $0.podSandboxID == pod })
      func value(_ name: String, in series: [Runtime_V1_Metric], where label: (String, String)? = nil) -> UInt64? {
        series.first { metric in
          guard metric.name == name else { return false }
          guard let (key, wanted) = label, let position = keys[name]?.firstIndex(of: key) else { return true }
          return metric.labelValues[position] == wanted
        }?.value.value
      }
      for metric in metrics.metrics + metrics.containerMetrics.flatMap(\.metrics) {
        let labelKeys = try #require(keys[metric.name], "\(metric.name) has no descriptor")
        #expect(metric.labelValues.count == labelKeys.count, "\(metric.name)")
        #expect(metric.timestamp > 0)
      }
      let spin = try #require(metrics.containerMetrics.first { $0.containerID == busy })
      let podKey = try #require(keys["container_cpu_usage_seconds_total"]?.firstIndex(of: "pod"))
      let containerKey = try #require(keys["container_cpu_usage_seconds_total"]?.firstIndex(of: "container"))
      let cpu = try #require(spin.metrics.first { $0.name == "container_cpu_usage_seconds_total" })
      #expect(cpu.metricType == .counter)
      #expect(cpu.labelValues[podKey] == "metrics")
      #expect(cpu.labelValues[containerKey] == "spin")
      #expect(cpu.value.value >= 1, "a busy loop past one second of CPU: \(cpu)")
      #expect((value("container_memory_working_set_bytes", in: spin.metrics) ?? 0) > 0)
      #expect(value("container_start_time_seconds", in: spin.metrics) != nil)
      // The pod series carries the pod's interfaces; the ping moved bytes both ways on eth0.
      #expect((value("container_network_receive_bytes_total", in: metrics.metrics, where: ("interface", "eth0")) ?? 0) > 0)
      #expect((value("container_network_transmit_bytes_total", in: metrics.metrics, where: ("interface", "eth0")) ?? 0) > 0)
      #expect((value("container_cpu_usage_seconds_total", in: metrics.metrics) ?? 0) >= cpu.value.value)

      let streamed = try await pods.daemon.withClients { runtime, _ in
        try await runtime.streamPodSandboxMetrics(.init()) { response in
          var ids: [String] = []
          for try await message in response.messages { ids += message.podSandboxMetrics.map(\.podSandboxID) }
          return ids
        }
      }
      #expect(streamed.contains(pod))
      // A stopped pod is no longer reported.
      _ = try await pods.runtime { try await $0.stopPodSandbox(.with { $0.podSandboxID = pod }) }
      let after = try await pods.runtime { try await $0.listPodSandboxMetrics(.init()).podMetrics }
      #expect(!after.contains { $0.podSandboxID == pod })
    }
  }
}
