/// Which network, PID and IPC namespaces a pod or container uses, and its user namespace.
public struct NamespaceOptions: Sendable, Equatable, Codable {
  public var network = NamespaceMode.pod
  public var pid = NamespaceMode.pod
  public var ipc = NamespaceMode.pod
  /// The container whose PID namespace a container joins (with `pid` TARGET).
  public var targetID = ""
  /// nil when the request says nothing about user namespaces.
  public var usernsOptions: UserNamespaceOptions?

  public init() {}
}
