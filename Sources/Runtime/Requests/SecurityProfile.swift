/// A seccomp or AppArmor profile request: the runtime's default, none, or a named profile on the node.
public struct SecurityProfile: Sendable, Equatable, Codable {
  public enum Kind: Sendable, Equatable, Codable {
    case runtimeDefault
    case unconfined
    case localhost
    /// A type from a newer kubelet, refused by number.
    case unrecognized(Int)
  }

  public var kind: Kind
  /// The profile's name or path, for `localhost`.
  public var localhostRef: String

  public init(kind: Kind, localhostRef: String = "") {
    self.kind = kind
    self.localhostRef = localhostRef
  }
}
