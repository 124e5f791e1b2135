/// The Linux side of a pod: its cgroup parent (kubelet's pod cgroup), namespaced sysctls and security.
public struct LinuxPodSandboxSpec: Sendable, Equatable, Codable {
  public var cgroupParent = ""
  public var sysctls: [String: String] = [:]
  public var securityContext = PodSecurityContext()

  public init() {}
}
