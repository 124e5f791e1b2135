/// What PodSandboxStats reports of one pod: its created and running containers, the pod's CPU, memory
/// and process count (from its cgroup, or its members' added up), and its network when it has its own.
public struct PodUsage: Sendable {
  public var sandbox: RuntimeManager.SandboxView
  public var containers: [ContainerUsage] = []
  public var cpu: CPUUsage?
  public var memory: MemoryUsage?
  public var processes: ProcessUsage?
  public var network: NetworkUsage?

  public init(sandbox: RuntimeManager.SandboxView) {
    self.sandbox = sandbox
  }
}
