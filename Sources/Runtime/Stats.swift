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

  /// Stats of the created and running containers matching the filter (id, sandbox id, labels), each handed
  /// to `entry` inside the pass, so that what the caller makes of them (the wire entry of a list) is made on
  /// every core, as the reading is.
  public func listContainerStats<Entry: Sendable>(
    _ filter: ContainerStatsFilter?, each entry: @escaping @Sendable (ContainerUsage) -> Entry
  ) async throws(CrispError) -> [Entry] {
    let all = try containers()
    // A pass racing RemoveContainer may have remembered a removed container's cgroup: keep only live ones.
    let live = Set(all.map(\.record.id))
    statsMemory.cgroupsPaths.withLock { paths in
      if paths.keys.contains(where: { !live.contains($0) }) { paths = paths.filter { live.contains($0.key) } }
    }
    closeUnusedCgroupFiles(sandboxes: try sandboxes(), containers: all)
    let selected = all.filter { view in
      guard view.record.state == .created || view.record.state == .running else { return false }
      guard let filter else { return true }
      if !filter.id.isEmpty && !view.record.id.hasPrefix(filter.id) { return false }
      if !filter.podSandboxID.isEmpty && !view.record.sandboxID.hasPrefix(filter.podSandboxID) { return false }
      return filter.labelSelector.allSatisfy { view.config.labels[$0.key] == $0.value }
    }
    return await StatsPass.map(selected) { [self] view in entry(containerStats(view)) }
  }

  func containerStats(_ view: ContainerView) -> ContainerUsage {
    var stats = ContainerUsage(container: view)
    // Container stats have no process count.
    if let path = cgroupsPath(of: view.record), let sample = cgroupCounters.sample(path, parts: .swap) {
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

  /// The container's cgroup (from its record's runtime details, decoded once per container).
  func cgroupsPath(of record: ContainerRecord) -> String? {
    if let known = statsMemory.cgroupsPaths.withLock({ $0[record.id] }) { return known }
    guard let path = containerExtra(record)?.cgroupsPath else { return nil }
    if record.state != .creating { statsMemory.cgroupsPaths.withLock { $0[record.id] = path } }
    return path
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
    let members = try containers().filter { $0.record.sandboxID == view.record.id }
    return await podSandboxStats(view, members: members, host: hostLinks(for: [view]))
  }

  /// Stats of the ready sandboxes matching the filter (id, labels), each handed to `entry` inside the pass
  /// (see ``listContainerStats(_:each:)``).
  public func listPodSandboxStats<Entry: Sendable>(
    _ filter: PodStatsFilter?, each entry: @escaping @Sendable (PodUsage) -> Entry
  ) async throws(CrispError) -> [Entry] {
    // Containers by pod, once: filtering every container for every pod is pods x containers copies.
    let all = try containers()
    let bySandbox = Dictionary(grouping: all, by: \.record.sandboxID)
    let ready = try sandboxes().filter { $0.record.state == .ready }
    interfaceCounters.retain(only: Set(ready.map(\.record.id)))
    closeUnusedCgroupFiles(sandboxes: ready, containers: all)
    let selected = ready.filter { view in
      guard let filter else { return true }
      if !filter.id.isEmpty && !view.record.id.hasPrefix(filter.id) { return false }
      return filter.labelSelector.allSatisfy { view.config.labels[$0.key] == $0.value }
    }
    // One dump of the host's links serves every pod of the list.
    let host = hostLinks(for: selected)
    return await StatsPass.map(selected) { [self] view in
      entry(await podSandboxStats(view, members: bySandbox[view.record.id] ?? [], host: host))
    }
  }

  /// `members`: the pod's containers (those neither created nor running are left out here).
  func podSandboxStats(_ view: SandboxView, members all: [ContainerView], host: HostLinkTable?) async -> PodUsage {
    var stats = PodUsage(sandbox: view)
    let members = all.filter { $0.record.state == .created || $0.record.state == .running }
    stats.containers = members.map { containerStats($0) }
    // The pod's own cgroup (kubelet's cgroup_parent) holds the pause and every container: read it whole.
    // Without one, add up the pause's and the containers' cgroups.
    let parent = view.config.linux.cgroupParent
    var sample: CgroupSample?
    // Pod stats have no swap.
    if !parent.isEmpty {
      sample = cgroupCounters.sample(parent, parts: .processes)
    } else {
      var paths: [String] = extra(of: view.record).map { [$0.cgroupsPath] } ?? []
      paths += members.compactMap { cgroupsPath(of: $0.record) }
      sample = Self.sum(paths.compactMap { cgroupCounters.sample($0, parts: .processes) })
    }
    if let sample {
      (stats.cpu, stats.memory) = usage(from: sample, key: "pod:" + view.record.id)
      if let count = sample.processCount { stats.processes = ProcessUsage(timestamp: sample.timestamp, count: count) }
    }
    if let usage = await podInterfaces(view, host: host) {
      stats.network = NetworkUsage(
        timestamp: Store.now(), interfaces: usage, defaultInterface: usage.first(where: { $0.name == "eth0" }) ?? usage.first)
    }
    return stats
  }

  /// Closes the kept counter files of cgroups that belong to none of `sandboxes` (their own cgroup parent
  /// and pause) and `containers`: what stats passes read, and nothing removed since.
  func closeUnusedCgroupFiles(sandboxes: [SandboxView], containers: [ContainerView]) {
    var live = Set<String>()
    for view in sandboxes where view.record.state == .ready {
      let parent = view.config.linux.cgroupParent
      if parent.isEmpty {
        if let pause = extra(of: view.record)?.cgroupsPath { live.insert(pause) }
      } else {
        live.insert(parent)
      }
    }
    for view in containers where view.record.state == .created || view.record.state == .running {
      if let path = cgroupsPath(of: view.record) { live.insert(path) }
    }
    cgroupCounters.retain(only: live)
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
