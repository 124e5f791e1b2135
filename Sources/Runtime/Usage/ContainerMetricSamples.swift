/// The metrics of one container of a pod.
public struct ContainerMetricSamples: Sendable, Equatable {
  public var containerID: String
  public var metrics: [MetricSample]

  public init(containerID: String, metrics: [MetricSample]) {
    self.containerID = containerID
    self.metrics = metrics
  }
}
