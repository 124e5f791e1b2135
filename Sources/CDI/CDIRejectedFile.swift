/// A spec file crisp does not use, and why (Status verbose lists these, and a request for a device of its
/// kind fails naming it).
public struct CDIRejectedFile: Sendable, Equatable, Codable {
  public var path: String
  public var reason: String
  /// The file's `kind` when it was read that far, so a request for a device of that kind names this file.
  public var kind: String?

  public init(path: String, reason: String, kind: String? = nil) {
    self.path = path
    self.reason = reason
    self.kind = kind
  }
}
