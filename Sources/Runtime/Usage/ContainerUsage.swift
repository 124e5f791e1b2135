/// What ContainerStats reports of one container: CPU and memory (both present when its cgroup could be
/// read), swap (when the cgroup counts it) and its writable layer (when measured).
public struct ContainerUsage: Sendable {
  public var container: RuntimeManager.ContainerView
  public var cpu: CPUUsage?
  public var memory: MemoryUsage?
  public var swap: SwapUsage?
  public var writableLayer: WritableLayerUsage?

  public init(container: RuntimeManager.ContainerView) {
    self.container = container
  }
}
