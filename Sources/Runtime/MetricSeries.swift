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
