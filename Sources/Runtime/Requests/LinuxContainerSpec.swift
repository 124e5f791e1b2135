/// The Linux side of a container: its resources and security settings.
public struct LinuxContainerSpec: Sendable, Equatable, Codable {
  public var resources = ContainerResources()
  public var securityContext = ContainerSecurityContext()

  public init() {}
}
