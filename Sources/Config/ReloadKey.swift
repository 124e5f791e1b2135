/// One configuration key (or group of keys under one name) as a reload sees it: how to tell whether it
/// changed, how to carry its value from one configuration to another, and whether the running daemon can
/// take the new value (its ``group``) or needs a restart (`group == nil`).
public struct ReloadKey: Sendable {
  /// The TOML key as the operator writes it, e.g. `log.level` or `runtime.handlers.*.binary`.
  public let name: String
  /// The applier that takes a new value, or nil when only a restart does.
  public let group: ReloadGroup?
  private let differs: @Sendable (CrispConfig, CrispConfig) -> Bool
  private let copy: @Sendable (inout CrispConfig, CrispConfig) -> Void
  private let show: @Sendable (CrispConfig) -> String

  /// A key held in one property of ``CrispConfig``.
  public init<Value: Equatable & Sendable>(
    _ name: String, _ group: ReloadGroup?, _ keyPath: any WritableKeyPath<CrispConfig, Value> & Sendable,
    show: @escaping @Sendable (Value) -> String = { "\($0)" }
  ) {
    self.name = name
    self.group = group
    differs = { $0[keyPath: keyPath] != $1[keyPath: keyPath] }
    copy = { $0[keyPath: keyPath] = $1[keyPath: keyPath] }
    self.show = { show($0[keyPath: keyPath]) }
  }

  /// A key spread over several places (e.g. one field of every runtime handler).
  public init(
    _ name: String, _ group: ReloadGroup?, differs: @escaping @Sendable (CrispConfig, CrispConfig) -> Bool,
    copy: @escaping @Sendable (inout CrispConfig, CrispConfig) -> Void, show: @escaping @Sendable (CrispConfig) -> String
  ) {
    self.name = name
    self.group = group
    self.differs = differs
    self.copy = copy
    self.show = show
  }

  /// Whether `old` and `new` disagree on this key.
  public func changed(from old: CrispConfig, to new: CrispConfig) -> Bool { differs(old, new) }

  /// Sets this key of `target` to its value in `source`.
  public func carry(into target: inout CrispConfig, from source: CrispConfig) { copy(&target, source) }

  /// The value, for a log line (credentials are never shown: registry keys show their redacted form).
  public func value(in config: CrispConfig) -> String { show(config) }
}
