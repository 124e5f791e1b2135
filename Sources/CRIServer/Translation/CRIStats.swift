import CRIAPI
import PodNetwork
import Runtime

/// Runtime's usage readings as the CRI's stats and metrics messages: a field is set exactly when Runtime
/// has a reading for it, so kubelet tells "zero" from "not measured".
enum CRIStats {
  static func container(_ usage: ContainerUsage) -> Runtime_V1_ContainerStats {
    var stats = Runtime_V1_ContainerStats()
    let view = usage.container
    stats.attributes.id = view.record.id
    stats.attributes.metadata = view.config.metadata.cri
    stats.attributes.labels = view.config.labels
    stats.attributes.annotations = view.config.annotations
    if let cpu = usage.cpu { stats.cpu = Self.cpu(cpu) }
    if let memory = usage.memory { stats.memory = Self.memory(memory) }
    if let swap = usage.swap {
      stats.swap.timestamp = swap.timestamp
      stats.swap.swapUsageBytes = .with { $0.value = swap.usageBytes }
      if let available = swap.availableBytes { stats.swap.swapAvailableBytes = .with { $0.value = available } }
    }
    if let layer = usage.writableLayer {
      stats.writableLayer.timestamp = layer.timestamp
      stats.writableLayer.fsID.mountpoint = layer.mountpoint
      stats.writableLayer.usedBytes = .with { $0.value = layer.usedBytes }
      stats.writableLayer.inodesUsed = .with { $0.value = layer.inodesUsed }
    }
    return stats
  }

  static func pod(_ usage: PodUsage) -> Runtime_V1_PodSandboxStats {
    var stats = Runtime_V1_PodSandboxStats()
    let view = usage.sandbox
    stats.attributes.id = view.record.id
    stats.attributes.metadata = view.config.metadata.cri
    stats.attributes.labels = view.config.labels
    stats.attributes.annotations = view.config.annotations
    stats.linux.containers = usage.containers.map(container)
    if let cpu = usage.cpu { stats.linux.cpu = Self.cpu(cpu) }
    if let memory = usage.memory { stats.linux.memory = Self.memory(memory) }
    if let processes = usage.processes {
      stats.linux.process.timestamp = processes.timestamp
      stats.linux.process.processCount = .with { $0.value = processes.count }
    }
    if let network = usage.network {
      stats.linux.network.timestamp = network.timestamp
      stats.linux.network.interfaces = network.interfaces.map(interface)
      if let primary = network.defaultInterface { stats.linux.network.defaultInterface = interface(primary) }
    }
    return stats
  }

  static func cpu(_ usage: CPUUsage) -> Runtime_V1_CpuUsage {
    var cpu = Runtime_V1_CpuUsage()
    cpu.timestamp = usage.timestamp
    if let used = usage.coreNanoseconds { cpu.usageCoreNanoSeconds = .with { $0.value = used } }
    if let cores = usage.nanoCores { cpu.usageNanoCores = .with { $0.value = cores } }
    return cpu
  }

  static func memory(_ usage: MemoryUsage) -> Runtime_V1_MemoryUsage {
    var memory = Runtime_V1_MemoryUsage()
    memory.timestamp = usage.timestamp
    if let value = usage.usageBytes { memory.usageBytes = .with { $0.value = value } }
    if let value = usage.workingSetBytes { memory.workingSetBytes = .with { $0.value = value } }
    if let value = usage.availableBytes { memory.availableBytes = .with { $0.value = value } }
    if let value = usage.rssBytes { memory.rssBytes = .with { $0.value = value } }
    if let value = usage.pageFaults { memory.pageFaults = .with { $0.value = value } }
    if let value = usage.majorPageFaults { memory.majorPageFaults = .with { $0.value = value } }
    return memory
  }

  static func interface(_ statistics: InterfaceStatistics) -> Runtime_V1_NetworkInterfaceUsage {
    .with {
      $0.name = statistics.name
      $0.rxBytes = .with { $0.value = statistics.rxBytes }
      $0.rxErrors = .with { $0.value = statistics.rxErrors }
      $0.txBytes = .with { $0.value = statistics.txBytes }
      $0.txErrors = .with { $0.value = statistics.txErrors }
    }
  }

  // MARK: Metrics

  static var descriptors: [Runtime_V1_MetricDescriptor] {
    PodMetric.allCases.map { metric in
      .with {
        $0.name = metric.rawValue
        $0.help = metric.help
        $0.labelKeys = metric.labelKeys
      }
    }
  }

  static func metrics(_ samples: PodMetricSamples) -> Runtime_V1_PodSandboxMetrics {
    var result = Runtime_V1_PodSandboxMetrics()
    result.podSandboxID = samples.podSandboxID
    result.metrics = samples.metrics.map(metric)
    result.containerMetrics = samples.containers.map { container in
      .with {
        $0.containerID = container.containerID
        $0.metrics = container.metrics.map(metric)
      }
    }
    return result
  }

  static func metric(_ sample: MetricSample) -> Runtime_V1_Metric {
    .with {
      $0.name = sample.metric.rawValue
      $0.timestamp = sample.timestamp
      $0.metricType = sample.metric.isCounter ? .counter : .gauge
      $0.labelValues = sample.labelValues
      $0.value = .with { $0.value = sample.value }
    }
  }
}
