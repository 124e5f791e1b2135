public import CrispCore
import PodNetwork
import Store

/// The cAdvisor-named metrics crisp reports through ListMetricDescriptors / ListPodSandboxMetrics.
///
/// kubelet (with `PodAndContainerStatsFromCRI`) serves `/metrics/cadvisor` from these instead of running
/// cAdvisor against the cgroups itself, so the names, types and label keys are cAdvisor's: dashboards and
/// alerts written for cAdvisor keep working. A metric's label values line up with its descriptor's keys.
public enum PodMetric: String, CaseIterable, Sendable {
  case cpuUsageSeconds = "container_cpu_usage_seconds_total"
  case memoryUsageBytes = "container_memory_usage_bytes"
  case memoryWorkingSetBytes = "container_memory_working_set_bytes"
  case memoryRSS = "container_memory_rss"
  case memorySwap = "container_memory_swap"
  case memoryLimitBytes = "container_spec_memory_limit_bytes"
  case processes = "container_processes"
  case fsUsageBytes = "container_fs_usage_bytes"
  case startTimeSeconds = "container_start_time_seconds"
  case lastSeen = "container_last_seen"
  case networkReceiveBytes = "container_network_receive_bytes_total"
  case networkReceiveErrors = "container_network_receive_errors_total"
  case networkTransmitBytes = "container_network_transmit_bytes_total"
  case networkTransmitErrors = "container_network_transmit_errors_total"

  /// cAdvisor's own labels for a container series: `id` is the cgroup, `name` the runtime's container id.
  public static let containerLabels = ["container", "id", "image", "name", "namespace", "pod"]

  public var labelKeys: [String] {
    switch self {
    case .networkReceiveBytes, .networkReceiveErrors, .networkTransmitBytes, .networkTransmitErrors:
      return Self.containerLabels + ["interface"]
    default:
      return Self.containerLabels
    }
  }

  /// Whether the metric only grows (a counter) or goes up and down (a gauge).
  public var isCounter: Bool {
    switch self {
    case .cpuUsageSeconds, .networkReceiveBytes, .networkReceiveErrors, .networkTransmitBytes, .networkTransmitErrors: return true
    default: return false
    }
  }

  public var help: String {
    switch self {
    case .cpuUsageSeconds: return "Cumulative cpu time consumed in seconds (whole seconds: CRI metric values are integers)."
    case .memoryUsageBytes: return "Current memory usage in bytes, including all memory regardless of when it was accessed"
    case .memoryWorkingSetBytes: return "Current working set in bytes."
    case .memoryRSS: return "Size of RSS in bytes."
    case .memorySwap: return "Container swap usage in bytes."
    case .memoryLimitBytes: return "Memory limit for the container."
    case .processes: return "Number of processes running inside the container."
    case .fsUsageBytes: return "Number of bytes that are consumed by the container on this filesystem."
    case .startTimeSeconds: return "Start time of the container since unix epoch in seconds."
    case .lastSeen: return "Last time a container was seen by the exporter"
    case .networkReceiveBytes: return "Cumulative count of bytes received"
    case .networkReceiveErrors: return "Cumulative count of errors encountered while receiving"
    case .networkTransmitBytes: return "Cumulative count of bytes transmitted"
    case .networkTransmitErrors: return "Cumulative count of errors encountered while transmitting"
    }
  }
}

/// Collects metric samples for one series (one container, or the pod as a whole) with its label values.
struct MetricSeries {
  let labels: [String]
  let timestamp: Int64
  var metrics: [MetricSample] = []

  mutating func add(_ metric: PodMetric, _ value: UInt64?, extra: [String] = []) {
    guard let value else { return }
    metrics.append(MetricSample(metric: metric, timestamp: timestamp, labelValues: labels + extra, value: value))
  }

  /// CPU, memory and process counts from a cgroup sample.
  mutating func add(_ sample: CgroupSample) {
    add(.cpuUsageSeconds, sample.cpuNanoseconds.map { $0 / 1_000_000_000 })
    add(.memoryUsageBytes, sample.memoryUsage)
    add(.memoryWorkingSetBytes, sample.workingSet)
    add(.memoryRSS, sample.rss)
    add(.memorySwap, sample.swapUsage)
    add(.memoryLimitBytes, sample.memoryLimit)
    add(.processes, sample.processCount)
  }
}

extension RuntimeManager {
  /// Metrics of every ready pod and its created or running containers.
  public func podSandboxMetrics() async throws(CrispError) -> [PodMetricSamples] {
    let all = try containers()
    var result: [PodMetricSamples] = []
    for view in try sandboxes() where view.record.state == .ready {
      result.append(await podSandboxMetrics(view, containers: all))
    }
    return result
  }

  func podSandboxMetrics(_ view: SandboxView, containers all: [ContainerView]) async -> PodMetricSamples {
    let now = Store.now()
    let pod = view.config.metadata.name
    let namespace = view.config.metadata.namespace
    var result = PodMetricSamples(podSandboxID: view.record.id)
    let members = all.filter { $0.record.sandboxID == view.record.id && ($0.record.state == .created || $0.record.state == .running) }
    for member in members {
      let cgroupsPath = containerExtra(member.record)?.cgroupsPath ?? ""
      var series = MetricSeries(
        labels: [member.config.metadata.name, cgroupsPath.isEmpty ? "" : cgroups.relativeDirectory(cgroupsPath), member.record.imageRef, member.record.id, namespace, pod], timestamp: now)
      if !cgroupsPath.isEmpty, let sample = cgroups.sample(cgroupsPath) { series.add(sample) }
      if let layer = writableLayerUsage(member.record.id) {
        series.add(.fsUsageBytes, layer.bytes)
      }
      if member.record.startedAt > 0 { series.add(.startTimeSeconds, UInt64(member.record.startedAt / 1_000_000_000)) }
      series.add(.lastSeen, UInt64(now / 1_000_000_000))
      result.containers.append(ContainerMetricSamples(containerID: member.record.id, metrics: series.metrics))
    }
    // The pod as a whole, as cAdvisor reports the pod cgroup: an empty container label. Its network is the
    // pod's (every container shares the sandbox's network namespace).
    let parent = view.config.linux.cgroupParent
    var series = MetricSeries(labels: ["", parent.isEmpty ? "" : cgroups.relativeDirectory(parent), "", view.record.id, namespace, pod], timestamp: now)
    if !parent.isEmpty, let sample = cgroups.sample(parent) {
      series.add(sample)
    } else {
      var paths: [String] = extra(of: view.record).map { [$0.cgroupsPath] } ?? []
      paths += members.compactMap { containerExtra($0.record)?.cgroupsPath }
      if let sample = Self.sum(paths.compactMap { cgroups.sample($0) }) { series.add(sample) }
    }
    series.add(.startTimeSeconds, UInt64(max(0, view.record.createdAt) / 1_000_000_000))
    series.add(.lastSeen, UInt64(now / 1_000_000_000))
    if !view.hostNetwork, !view.record.netnsPath.isEmpty, let interfaces = try? await InterfaceStatistics.read(netnsPath: view.record.netnsPath) {
      for interface in interfaces where interface.name != "lo" {
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
