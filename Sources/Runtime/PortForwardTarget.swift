/// A ready pod sandbox the streaming server forwards ports into.
public struct PortForwardTarget: Sendable {
  public let sandboxID: String
  /// The pod's network namespace; nil for a host-network pod (ports are dialled on the host).
  public let netns: String?
}
