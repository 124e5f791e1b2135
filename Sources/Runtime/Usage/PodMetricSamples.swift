/// The metrics of one ready pod: the pod's own series and each created or running container's.
public struct PodMetricSamples: Sendable, Equatable {
  public var podSandboxID: String
  public var metrics: [MetricSample] = []
  public var containers: [ContainerMetricSamples] = []

  public init(podSandboxID: String) {
    self.podSandboxID = podSandboxID
  }
}
