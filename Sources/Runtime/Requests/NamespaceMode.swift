/// Whose namespace a pod or container uses. `unrecognized` keeps a value from a newer kubelet, so that it
/// is refused (or passed back) as sent.
public enum NamespaceMode: Sendable, Equatable, Codable {
  case pod
  case container
  case node
  case target
  case unrecognized(Int)
}
