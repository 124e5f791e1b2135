public import Config
public import CrispCore
public import Logging
public import Store

/// What every handler shares: the effective configuration, the store, and facts settled at start-up.
public struct NodeContext: Sendable {
  /// The configuration as a reload (SIGHUP) leaves it.
  public let live: LiveConfig
  /// The configuration now: an immutable snapshot; a handler reads it once per call.
  public var config: CrispConfig { live.current }
  public let store: Store
  public let logger: Logger
  /// The cgroup driver in force (`auto` resolved at start-up).
  public let cgroupDriver: CrispConfig.CgroupDriver

  public init(config: CrispConfig, store: Store, logger: Logger, pid1IsSystemd: Bool = Host.pid1IsSystemd) {
    live = LiveConfig(config)
    self.store = store
    self.logger = logger
    switch config.cgroupDriver {
    case .auto: cgroupDriver = pid1IsSystemd ? .systemd : .cgroupfs
    case .cgroupfs, .systemd: cgroupDriver = config.cgroupDriver
    }
  }
}
