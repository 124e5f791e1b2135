/// One value of a cAdvisor-named metric, with label values in the order of its ``PodMetric/labelKeys``.
public struct MetricSample: Sendable, Equatable {
  public var metric: PodMetric
  public var timestamp: Int64
  public var labelValues: [String]
  public var value: UInt64

  public init(metric: PodMetric, timestamp: Int64, labelValues: [String], value: UInt64) {
    self.metric = metric
    self.timestamp = timestamp
    self.labelValues = labelValues
    self.value = value
  }
}
