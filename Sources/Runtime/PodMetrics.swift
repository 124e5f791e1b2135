public import CrispCore
import PodNetwork
import Store

extension RuntimeManager {
  /// Metrics of every ready pod and its created or running containers.
  public func podSandboxMetrics() async throws(CrispError) -> [PodMetricSamples] {
    let all = try containers()
    let bySandbox = Dictionary(grouping: all, by: \.record.sandboxID)
    let ready = try sandboxes().filter { $0.record.state == .ready }
    interfaceCounters.retain(only: Set(ready.map(\.record.id)))
    closeUnusedCgroupFiles(sandboxes: ready, containers: all)
    let host = hostLinks(for: ready)
    var result: [PodMetricSamples] = []
    for view in ready {
      result.append(await podSandboxMetrics(view, members: bySandbox[view.record.id] ?? [], host: host))
    }
    return result
  }

  /// `members`: the pod's containers (those neither created nor running are left out here).
  func podSandboxMetrics(_ view: SandboxView, members all: [ContainerView], host: HostLinkTable?) async -> PodMetricSamples {
    let now = Store.now()
    let pod = view.config.metadata.name
    let namespace = view.config.metadata.namespace
    var result = PodMetricSamples(podSandboxID: view.record.id)
    let members = all.filter { $0.record.state == .created || $0.record.state == .running }
    for member in members {
      let memberCgroup = cgroupsPath(of: member.record) ?? ""
      var series = MetricSeries(
        labels: [
          member.config.metadata.name, memberCgroup.isEmpty ? "" : cgroups.relativeDirectory(memberCgroup), member.record.imageRef, member.record.id,
          namespace, pod,
        ], timestamp: now)
      if !memberCgroup.isEmpty, let sample = cgroupCounters.sample(memberCgroup) { series.add(sample) }
      // The background walker's last measurement of the writable layer (none until its first).
      if let layer = images.snapshotter.writableUsage.usage(owner: member.record.id) {
        series.add(.fsUsageBytes, UInt64(max(0, layer.usage.bytes)))
      }
      if member.record.startedAt > 0 { series.add(.startTimeSeconds, UInt64(member.record.startedAt / 1_000_000_000)) }
      series.add(.lastSeen, UInt64(now / 1_000_000_000))
      result.containers.append(ContainerMetricSamples(containerID: member.record.id, metrics: series.metrics))
    }
    // The pod as a whole, as cAdvisor reports the pod cgroup: an empty container label. Its network is the
    // pod's (every container shares the sandbox's network namespace).
    let parent = view.config.linux.cgroupParent
    var series = MetricSeries(
      labels: ["", parent.isEmpty ? "" : cgroups.relativeDirectory(parent), "", view.record.id, namespace, pod], timestamp: now)
    if !parent.isEmpty, let sample = cgroupCounters.sample(parent) {
      series.add(sample)
    } else {
      var paths: [String] = extra(of: view.record).map { [$0.cgroupsPath] } ?? []
      paths += members.compactMap { cgroupsPath(of: $0.record) }
      if let sample = Self.sum(paths.compactMap { cgroupCounters.sample($0) }) { series.add(sample) }
    }
    series.add(.startTimeSeconds, UInt64(max(0, view.record.createdAt) / 1_000_000_000))
    series.add(.lastSeen, UInt64(now / 1_000_000_000))
    if let interfaces = await podInterfaces(view, host: host) {
      for interface in interfaces {
        series.add(.networkReceiveBytes, interface.rxBytes, extra: [interface.name])
        series.add(.networkReceiveErrors, interface.rxErrors, extra: [interface.name])
        series.add(.networkTransmitBytes, interface.txBytes, extra: [interface.name])
        series.add(.networkTransmitErrors, interface.txErrors, extra: [interface.name])
      }
    }
    result.metrics = series.metrics
    return result
  }
}
