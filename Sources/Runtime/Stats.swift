public import CRIAPI
public import CrispCore
import Foundation
import Images
import PodNetwork
import Store
import Synchronization

/// What stats remember between calls: the previous CPU reading per cgroup (usage_nano_cores is a rate),
/// and each writable layer's size, measured at most every `writableLayerInterval` (walking a layer per
/// call would make ListContainerStats as slow as the largest container).
final class StatsMemory: Sendable {
  struct CPUReading: Sendable {
    var timestamp: Int64
    var nanoseconds: UInt64
  }
  struct LayerUsage: Sendable {
    var measuredAt: Int64
    var bytes: UInt64
    var inodes: UInt64
  }

  static let writableLayerInterval: Int64 = 10_000_000_000

  let cpu = Mutex<[String: CPUReading]>([:])
  let layers = Mutex<[String: LayerUsage]>([:])

  /// Cores in use since the previous reading of `key`, in billionths of a core; nil on the first reading.
  func nanoCores(_ key: String, timestamp: Int64, nanoseconds: UInt64) -> UInt64? {
    cpu.withLock { readings in
      defer { readings[key] = CPUReading(timestamp: timestamp, nanoseconds: nanoseconds) }
      guard let previous = readings[key], timestamp > previous.timestamp, nanoseconds >= previous.nanoseconds else { return nil }
      let used = Double(nanoseconds - previous.nanoseconds)
      let elapsed = Double(timestamp - previous.timestamp)
      // Counters and clock are read apart, so a short interval can give any ratio: out of UInt64's range
      // it is no reading, never a trap.
      let cores = used / elapsed * 1_000_000_000
      return cores.isFinite && cores >= 0 && cores < 1.8e19 ? UInt64(cores) : nil
    }
  }

  func forget(_ key: String) {
    _ = cpu.withLock { $0.removeValue(forKey: key) }
    _ = layers.withLock { $0.removeValue(forKey: key) }
  }
}

extension RuntimeManager {
  // MARK: Container stats

  /// Stats of one container (created or running: a stopped container has no cgroup to read).
  public func containerStats(_ rawID: String) throws(CrispError) -> Runtime_V1_ContainerStats {
    guard let view = try container(rawID) else { throw CrispError.notFound("container \"\(rawID)\" not found") }
    return containerStats(view)
  }

  /// Stats of the created and running containers matching the filter (id, sandbox id, labels).
  public func listContainerStats(_ filter: Runtime_V1_ContainerStatsFilter?) throws(CrispError) -> [Runtime_V1_ContainerStats] {
    try containers().filter { view in
      guard view.record.state == .created || view.record.state == .running else { return false }
      guard let filter else { return true }
      if !filter.id.isEmpty && !view.record.id.hasPrefix(filter.id) { return false }
      if !filter.podSandboxID.isEmpty && !view.record.sandboxID.hasPrefix(filter.podSandboxID) { return false }
      return filter.labelSelector.allSatisfy { view.config.labels[$0.key] == $0.value }
    }.map { containerStats($0) }
  }

  func containerStats(_ view: ContainerView) -> Runtime_V1_ContainerStats {
    var stats = Runtime_V1_ContainerStats()
    stats.attributes.id = view.record.id
    stats.attributes.metadata = view.config.metadata
    stats.attributes.labels = view.config.labels
    stats.attributes.annotations = view.config.annotations
    if let cgroupsPath = containerExtra(view.record)?.cgroupsPath, let sample = cgroups.sample(cgroupsPath) {
      (stats.cpu, stats.memory) = usage(from: sample, key: view.record.id)
      if sample.swapUsage != nil {
        stats.swap.timestamp = sample.timestamp
        stats.swap.swapUsageBytes = .with { $0.value = sample.swapUsage ?? 0 }
        if let limit = sample.swapLimit, let used = sample.swapUsage { stats.swap.swapAvailableBytes = .with { $0.value = limit > used ? limit - used : 0 } }
      }
    }
    if let layer = writableLayerUsage(view.record.id) {
      stats.writableLayer.timestamp = layer.measuredAt
      stats.writableLayer.fsID.mountpoint = images.snapshotter.root
      stats.writableLayer.usedBytes = .with { $0.value = layer.bytes }
      stats.writableLayer.inodesUsed = .with { $0.value = layer.inodes }
    }
    return stats
  }

  /// CPU and memory from a cgroup sample, in the CRI's shape.
  func usage(from sample: CgroupSample, key: String) -> (Runtime_V1_CpuUsage, Runtime_V1_MemoryUsage) {
    var cpu = Runtime_V1_CpuUsage()
    var memory = Runtime_V1_MemoryUsage()
    if let used = sample.cpuNanoseconds {
      cpu.timestamp = sample.timestamp
      cpu.usageCoreNanoSeconds = .with { $0.value = used }
      if let cores = statsMemory.nanoCores(key, timestamp: sample.timestamp, nanoseconds: used) {
        cpu.usageNanoCores = .with { $0.value = cores }
      }
    }
    guard let usage = sample.memoryUsage else { return (cpu, memory) }
    memory.timestamp = sample.timestamp
    memory.usageBytes = .with { $0.value = usage }
    if let working = sample.workingSet { memory.workingSetBytes = .with { $0.value = working } }
    if let available = sample.available { memory.availableBytes = .with { $0.value = available } }
    if let rss = sample.rss { memory.rssBytes = .with { $0.value = rss } }
    if let faults = sample.pageFaults { memory.pageFaults = .with { $0.value = faults } }
    if let major = sample.majorPageFaults { memory.majorPageFaults = .with { $0.value = major } }
    return (cpu, memory)
  }

  /// The container's writable layer size, re-measured when the last measure is older than the interval.
  func writableLayerUsage(_ id: String) -> StatsMemory.LayerUsage? {
    let now = Store.now()
    if let cached = statsMemory.layers.withLock({ $0[id] }), now - cached.measuredAt < StatsMemory.writableLayerInterval {
      return cached
    }
    guard let directory = (try? images.snapshotter.writableDirectory(owner: id)) ?? nil else { return nil }
    let usage = DiskUsage.measure(directory)
    var bytes = UInt64(max(0, usage.bytes)), inodes = UInt64(max(0, usage.inodes))
    if let failure = usage.failure {
      // A lower bound, and never lower than the last reading: a container must not shrink its
      // ephemeral-storage usage (and escape eviction) by making the walk fail. The log says so.
      logger.warning("writable layer only partly measured", metadata: ["container": "\(id)", "reason": "\(failure)"])
      if let previous = statsMemory.layers.withLock({ $0[id] }) {
        bytes = max(bytes, previous.bytes)
        inodes = max(inodes, previous.inodes)
      }
    }
    let measured = StatsMemory.LayerUsage(measuredAt: now, bytes: bytes, inodes: inodes)
    statsMemory.layers.withLock { $0[id] = measured }
    return measured
  }

  // MARK: Pod stats

  public func podSandboxStats(_ rawID: String) async throws(CrispError) -> Runtime_V1_PodSandboxStats {
    guard let view = try sandbox(rawID) else { throw CrispError.notFound("pod sandbox \"\(rawID)\" not found") }
    return await podSandboxStats(view, containers: try containers())
  }

  /// Stats of the ready sandboxes matching the filter (id, labels).
  public func listPodSandboxStats(_ filter: Runtime_V1_PodSandboxStatsFilter?) async throws(CrispError) -> [Runtime_V1_PodSandboxStats] {
    let all = try containers()
    var result: [Runtime_V1_PodSandboxStats] = []
    for view in try sandboxes() where view.record.state == .ready {
      if let filter {
        if !filter.id.isEmpty && !view.record.id.hasPrefix(filter.id) { continue }
        if !filter.labelSelector.allSatisfy({ view.config.labels[$0.key] == $0.value }) { continue }
      }
      result.append(await podSandboxStats(view, containers: all))
    }
    return result
  }

  func podSandboxStats(_ view: SandboxView, containers all: [ContainerView]) async -> Runtime_V1_PodSandboxStats {
    var stats = Runtime_V1_PodSandboxStats()
    stats.attributes.id = view.record.id
    stats.attributes.metadata = view.config.metadata
    stats.attributes.labels = view.config.labels
    stats.attributes.annotations = view.config.annotations
    let members = all.filter { $0.record.sandboxID == view.record.id && ($0.record.state == .created || $0.record.state == .running) }
    stats.linux.containers = members.map { containerStats($0) }
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
      (stats.linux.cpu, stats.linux.memory) = usage(from: sample, key: "pod:" + view.record.id)
      if let count = sample.processCount {
        stats.linux.process.timestamp = sample.timestamp
        stats.linux.process.processCount = .with { $0.value = count }
      }
    }
    if !view.hostNetwork, !view.record.netnsPath.isEmpty, let interfaces = try? await InterfaceStatistics.read(netnsPath: view.record.netnsPath) {
      stats.linux.network.timestamp = Store.now()
      let usage = interfaces.filter { $0.name != "lo" }.map { interface in
        Runtime_V1_NetworkInterfaceUsage.with {
          $0.name = interface.name
          $0.rxBytes = .with { $0.value = interface.rxBytes }
          $0.rxErrors = .with { $0.value = interface.rxErrors }
          $0.txBytes = .with { $0.value = interface.txBytes }
          $0.txErrors = .with { $0.value = interface.txErrors }
        }
      }
      stats.linux.network.interfaces = usage
      if let primary = usage.first(where: { $0.name == "eth0" }) ?? usage.first { stats.linux.network.defaultInterface = primary }
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
