import Synchronization

/// The daemon's configuration as it is now: an immutable ``CrispConfig`` snapshot behind a lock, replaced
/// whole by a reload.
///
/// A call reads `current` once and works with that snapshot to its end, so an RPC in flight during a SIGHUP
/// sees either the old configuration or the new one, never a mix.
public final class LiveConfig: Sendable {
  private let snapshot: Mutex<CrispConfig>

  public init(_ config: CrispConfig) {
    snapshot = Mutex(config)
  }

  public var current: CrispConfig { snapshot.withLock { $0 } }

  /// Swaps in `config`, returning the one it replaced.
  @discardableResult
  public func replace(with config: CrispConfig) -> CrispConfig {
    snapshot.withLock { value in
      let previous = value
      value = config
      return previous
    }
  }
}
