/// A host device kubelet asks to expose in a container, with cgroup permissions ("rwm" letters).
public struct DeviceRequest: Sendable, Equatable, Codable {
  public var containerPath: String
  public var hostPath: String
  public var permissions: String

  public init(containerPath: String, hostPath: String, permissions: String) {
    self.containerPath = containerPath
    self.hostPath = hostPath
    self.permissions = permissions
  }
}
