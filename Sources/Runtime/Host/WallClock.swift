import Store

/// The time stamps written into records (created, started, finished), so that tests can fix them.
public protocol WallClock: Sendable {
  /// Nanoseconds since the epoch.
  func now() -> Int64
}

/// The system clock, in the unit the store keeps.
public struct SystemWallClock: WallClock {
  public init() {}
  public func now() -> Int64 { Store.now() }
}
