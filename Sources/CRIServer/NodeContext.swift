public import Config
public import CrispCore
public import Logging
public import Store

/// What every handler shares: the effective configuration, the store, and facts settled at start-up.
public struct NodeContext: Sendable {
  public let config: CrispConfig
  public let store: Store
  public let logger: Logger
  /// The cgroup driver in force (`auto` resolved at start-up).
  public let cgroupDriver: CrispConfig.CgroupDriver

  public init(config: CrispConfig, store: Store, logger: Logger, pid1IsSystemd: Bool = Host.pid1IsSystemd) {
    self.config = config
    self.store = store
    self.logger = logger
    switch config.cgroupDriver {
    case .auto: cgroupDriver = pid1IsSystemd ? .systemd : .cgroupfs
    case .cgroupfs, .systemd: cgroupDriver = config.cgroupDriver
    }
  }
}
