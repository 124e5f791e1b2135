import CrispCore
public import Store
import Synchronization

/// A lifecycle change of a container or a sandbox (for a sandbox, `containerID` is the sandbox id).
public struct ContainerEvent: Sendable, Equatable {
  public enum Kind: Sendable, Equatable { case created, started, stopped, deleted }

  public var containerID: String
  public var sandboxID: String
  public var kind: Kind
  /// Nanoseconds since the epoch.
  public var timestamp: Int64

  public init(containerID: String, sandboxID: String, kind: Kind, timestamp: Int64 = Store.now()) {
    self.containerID = containerID
    self.sandboxID = sandboxID
    self.kind = kind
    self.timestamp = timestamp
  }
}
