import CrispCore
import Store
import Synchronization

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
        continuation.finish(
          throwing: CrispError(
            .resourceExhausted, "the event subscriber fell \(capacity) events behind and was disconnected; list containers and subscribe again"))
      }
    }
  }
}
