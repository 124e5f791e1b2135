/// A host port forwarded to a pod port (the CNI portmap plugin's `portMappings`).
public struct PortMapping: Sendable, Equatable, Codable {
  /// "tcp", "udp" or "sctp".
  public var proto: String
  public var containerPort: Int32
  public var hostPort: Int32
  public var hostIP: String

  public init(proto: String, containerPort: Int32, hostPort: Int32, hostIP: String) {
    self.proto = proto
    self.containerPort = containerPort
    self.hostPort = hostPort
    self.hostIP = hostIP
  }
}
