public import CrispCore
import Foundation
import Images
import PodNetwork
import Store

extension RuntimeManager {
  // MARK: Container stats

  /// Stats of one container (created or running: a stopped container has no cgroup to read).
  public func containerStats(_ rawID: String) throws(CrispError) -> ContainerUsage {
    guard let view = try container(rawID) else { throw CrispError.notFound("container \"\(rawID)\" not found") }
    return containerStats(view)
  }

  /// Stats of the created and running containers matching the filter (id, sandbox id, labels).
  public func listContainerStats(_ filter: ContainerStatsFilter?) throws(CrispError) -> [ContainerUsage] {
    try containers().filter { view in
      guard view.record.state == .created || view.record.state == .running else { return false }
      guard let filter else { return true }
      if !filter.id.isEmpty && !view.record.id.hasPrefix(filter.id) { return false }
      if !filter.podSandboxID.isEmpty && !view.record.sandboxID.hasPrefix(filter.podSandboxID) { return false }
      return filter.labelSelector.allSatisfy { view.config.labels[$0.key] == $0.value }
    }.map { containerStats($0) }
  }

  func containerStats(_ view: ContainerView) -> ContainerUsage {
    var stats = ContainerUsage(container: view)
    if let cgroupsPath = containerExtra(view.record)?.cgroupsPath, let sample = cgroups.sample(cgroupsPath) {
      (stats.cpu, stats.memory) = usage(from: sample, key: view.record.id)
      if let used = sample.swapUsage {
        let available = sample.swapLimit.map { limit in limit > used ? limit - used : 0 }
        stats.swap = SwapUsage(timestamp: sample.timestamp, usageBytes: used, availableBytes: available)
      }
    }
    // The background walker's last measurement, with its time; none until the first.
    if let layer = images.snapshotter.writableUsage.usage(owner: view.record.id) {
      stats.writableLayer = WritableLayerUsage(
        timestamp: layer.measuredAt, mountpoint: images.snapshotter.root, usedBytes: UInt64(max(0, layer.usage.bytes)),
        inodesUsed: UInt64(max(0, layer.usage.inodes)))
    }
    return stats
  }

  /// CPU and memory from a cgroup sample.
  func usage(from sample: CgroupSample, key: String) -> (CPUUsage, MemoryUsage) {
    var cpu = CPUUsage()
    var memory = MemoryUsage()
    if let used = sample.cpuNanoseconds {
      cpu.timestamp = sample.timestamp
      cpu.coreNanoseconds = used
      cpu.nanoCores = statsMemory.nanoCores(key, timestamp: sample.timestamp, nanoseconds: used)
    }
    guard let usage = sample.memoryUsage else { return (cpu, memory) }
    memory.timestamp = sample.timestamp
    memory.usageBytes = usage
    memory.workingSetBytes = sample.workingSet
    memory.availableBytes = sample.available
    memory.rssBytes = sample.rss
    memory.pageFaults = sample.pageFaults
    memory.majorPageFaults = sample.majorPageFaults
    return (cpu, memory)
  }

  // MARK: Pod stats

  public func podSandboxStats(_ rawID: String) async throws(CrispError) -> PodUsage {
    guard let view = try sandbox(rawID) else { throw CrispError.notFound("pod sandbox \"\(rawID)\" not found") }
    return await podSandboxStats(view, containers: try containers())
  }

  /// Stats of the ready sandboxes matching the filter (id, labels).
  public func listPodSandboxStats(_ filter: PodStatsFilter?) async throws(CrispError) -> [PodUsage] {
    let all = try containers()
    var result: [PodUsage] = []
    for view in try sandboxes() where view.record.state == .ready {
      if let filter {
        if !filter.id.isEmpty && !view.record.id.hasPrefix(filter.id) { continue }
        if !filter.labelSelector.allSatisfy({ view.config.labels[$0.key] == $0.value }) { continue }
      }
      result.append(await podSandboxStats(view, containers: all))
    }
    return result
  }

  func podSandboxStats(_ view: SandboxView, containers all: [ContainerView]) async -> PodUsage {
    var stats = PodUsage(sandbox: view)
    let members = all.filter { $0.record.sandboxID == view.record.id && ($0.record.state == .created || $0.record.state == .running) }
    stats.containers = members.map { containerStats($0) }
    // The pod's own cgroup (kubelet's cgroup_parent) holds the pause and every container: read it whole.
    // Without one, add up the pause's and the containers' cgroups.
    let parent = view.config.linux.cgroupParent
    var sample: CgroupSample?
    if !parent.isEmpty {
      sample = cgroups.sample(parent)
    } else {
      var paths: [String] = extra(of: view.record).map { [$0.cgroupsPath] } ?? []
      paths += members.compactMap { containerExtra($0.record)?.cgroupsPath }
      sample = Self.sum(paths.compactMap { cgroups.sample($0) })
    }
    if let sample {
      (stats.cpu, stats.memory) = usage(from: sample, key: "pod:" + view.record.id)
      if let count = sample.processCount { stats.processes = ProcessUsage(timestamp: sample.timestamp, count: count) }
    }
    if !view.hostNetwork, !view.record.netnsPath.isEmpty, let interfaces = try? await InterfaceStatistics.read(netnsPath: view.record.netnsPath) {
      let usage = interfaces.filter { $0.name != "lo" }
      stats.network = NetworkUsage(
        timestamp: Store.now(), interfaces: usage, defaultInterface: usage.first(where: { $0.name == "eth0" }) ?? usage.first)
    }
    return stats
  }

  /// Several cgroups' counters added up (a pod without a cgroup of its own).
  static func sum(_ samples: [CgroupSample]) -> CgroupSample? {
    guard var total = samples.first else { return nil }
    func add(_ a: UInt64?, _ b: UInt64?) -> UInt64? {
      guard a != nil || b != nil else { return nil }
      let (sum, overflow) = (a ?? 0).addingReportingOverflow(b ?? 0)
      return overflow ? UInt64.max : sum
    }
    for sample in samples.dropFirst() {
      total.cpuNanoseconds = add(total.cpuNanoseconds, sample.cpuNanoseconds)
      total.memoryUsage = add(total.memoryUsage, sample.memoryUsage)
      total.inactiveFile = add(total.inactiveFile, sample.inactiveFile)
      total.rss = add(total.rss, sample.rss)
      total.pageFaults = add(total.pageFaults, sample.pageFaults)
      total.majorPageFaults = add(total.majorPageFaults, sample.majorPageFaults)
      total.swapUsage = add(total.swapUsage, sample.swapUsage)
      total.processCount = add(total.processCount, sample.processCount)
    }
    total.memoryLimit = nil
    total.swapLimit = nil
    return total
  }
}
