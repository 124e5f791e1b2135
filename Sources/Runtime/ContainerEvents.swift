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

/// Fans lifecycle events out to every GetContainerEvents subscriber. Publishing never waits: each
/// subscriber has a bounded buffer, and one that falls a whole buffer behind is cut off with
/// RESOURCE_EXHAUSTED (kubelet then relists) instead of slowing the runtime or growing without bound.
public final class ContainerEventBus: Sendable {
  public typealias Stream = AsyncThrowingStream<ContainerEvent, any Error>

  public let capacity: Int
  private let subscribers = Mutex<[UInt64: Stream.Continuation]>([:])
  private let nextID = Atomic<UInt64>(0)

  public init(capacity: Int = 1024) {
    self.capacity = capacity
  }

  public var subscriberCount: Int { subscribers.withLock { $0.count } }

  /// A new subscription; it ends when the subscriber stops iterating (or is cut off).
  public func subscribe() -> Stream {
    let (stream, continuation) = Stream.makeStream(bufferingPolicy: .bufferingOldest(capacity))
    let id = nextID.add(1, ordering: .relaxed).newValue
    subscribers.withLock { $0[id] = continuation }
    continuation.onTermination = { [weak self] _ in
      _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
    }
    return stream
  }

  public func publish(_ event: ContainerEvent) {
    let current = subscribers.withLock { Array($0) }
    for (id, continuation) in current {
      if case .dropped = continuation.yield(event) {
        _ = subscribers.withLock { $0.removeValue(forKey: id) }
        continuation.finish(throwing: CrispError(
          .resourceExhausted, "the event subscriber fell \(capacity) events behind and was disconnected; list containers and subscribe again"))
      }
    }
  }
}

/// The running containers whose exit has not been published yet. An exit is published once, by whichever
/// notices it first: the exit watcher (a container that ended by itself) or StopContainer.
final class ExitWatch: Sendable {
  private let running = Mutex<[String: String]>([:])
  /// Tells lists which of the watched containers to look at.
  let signals = ExitSignals()

  func watch(_ id: String, sandboxID: String, bundle: String) {
    // Signals first: a claim landing in between then finds both to undo.
    signals.watch(id, directory: bundle)
    running.withLock { $0[id] = sandboxID }
  }

  /// The sandbox of `id` if it was still watched (and is no longer).
  func claim(_ id: String) -> String? {
    signals.unwatch(id)
    return running.withLock { $0.removeValue(forKey: id) }
  }

  var snapshot: [String: String] { running.withLock { $0 } }
}
