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
