/// Who a pod is to kubelet: its name, namespace and uid, and which attempt at running it this sandbox is.
public struct PodSandboxMetadata: Sendable, Equatable, Codable {
  public var name = ""
  public var uid = ""
  public var namespace = ""
  public var attempt: UInt32 = 0

  public init(name: String = "", uid: String = "", namespace: String = "", attempt: UInt32 = 0) {
    self.name = name
    self.uid = uid
    self.namespace = namespace
    self.attempt = attempt
  }
}
