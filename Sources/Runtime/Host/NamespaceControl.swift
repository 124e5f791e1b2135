public import CrispCore
public import PodNetwork

/// Creating and removing the pinned namespaces of a pod. A protocol so that rollback can be tested without
/// root; ``KernelNamespaces`` is the real one.
public protocol NamespaceControl: Sendable {
  /// Creates a network namespace pinned at `path`.
  func createNetwork(at path: String) async throws(CrispError)
  /// Unpins and removes a network namespace; a missing one is fine.
  func removeNetwork(at path: String) throws(CrispError)
  /// Creates a user namespace pinned at `path` with the mappings and, with `netnsPath`, a network namespace
  /// it owns.
  func createUser(at path: String, uids: UserNamespace.Mapping, gids: UserNamespace.Mapping, netnsPath: String?) async throws(CrispError)
  /// Unpins and removes a user namespace; a missing one is fine.
  func removeUser(at path: String) throws(CrispError)
}

/// The kernel's namespaces, through PodNetwork's pinning helpers.
public struct KernelNamespaces: NamespaceControl {
  public init() {}

  public func createNetwork(at path: String) async throws(CrispError) { try await NetworkNamespace.create(at: path) }
  public func removeNetwork(at path: String) throws(CrispError) { try NetworkNamespace.remove(at: path) }
  public func createUser(at path: String, uids: UserNamespace.Mapping, gids: UserNamespace.Mapping, netnsPath: String?) async throws(CrispError) {
    try await UserNamespace.create(at: path, uids: uids, gids: gids, netnsPath: netnsPath)
  }
  public func removeUser(at path: String) throws(CrispError) { try UserNamespace.remove(at: path) }
}
