/// Who a container is to kubelet: its name in the pod, and which attempt at running it this is.
public struct ContainerMetadata: Sendable, Equatable, Codable {
  public var name = ""
  public var attempt: UInt32 = 0

  public init(name: String = "", attempt: UInt32 = 0) {
    self.name = name
    self.attempt = attempt
  }
}
