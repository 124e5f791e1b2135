public import Logging
import Synchronization

/// The daemon's log level, shared by every logger ``LogOutput`` makes, so a configuration reload changes it
/// for all of them at once (each log call reads it; an atomic, not a lock, on that path).
public final class LogLevelSwitch: Sendable {
  /// The one the daemon's loggers follow.
  public static let shared = LogLevelSwitch(.info)

  private let index: Atomic<Int>

  public init(_ level: Logger.Level) {
    index = Atomic(Self.index(of: level))
  }

  public var level: Logger.Level {
    let value = index.load(ordering: .relaxed)
    return Logger.Level.allCases.indices.contains(value) ? Logger.Level.allCases[value] : .info
  }

  public func set(_ level: Logger.Level) {
    index.store(Self.index(of: level), ordering: .relaxed)
  }

  private static func index(of level: Logger.Level) -> Int {
    Logger.Level.allCases.firstIndex(of: level) ?? 2
  }
}
