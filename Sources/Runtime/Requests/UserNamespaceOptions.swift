/// A user namespace request: its mode and, for a pod's own namespace, the uid and gid ranges it maps.
public struct UserNamespaceOptions: Sendable, Equatable, Codable {
  public var mode = NamespaceMode.pod
  public var uids: [IDMapping] = []
  public var gids: [IDMapping] = []

  public init(mode: NamespaceMode = .pod, uids: [IDMapping] = [], gids: [IDMapping] = []) {
    self.mode = mode
    self.uids = uids
    self.gids = gids
  }
}
