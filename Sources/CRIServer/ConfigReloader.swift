public import Config
import Images
public import Logging
import Runtime

/// Re-reads the configuration (main file and drop-ins) and applies what can change without a restart.
///
/// An actor, so two SIGHUPs in a row reload one after the other. The running configuration is an immutable
/// snapshot in ``LiveConfig``; a reload computes the new snapshot (``ConfigReloadPlan``: reloadable keys
/// from the files, restart-only keys kept), runs the applier of each group that changed (components that
/// cache a setting take it there), then swaps the snapshot. Calls in flight keep the snapshot they read.
/// A file that fails to load changes nothing.
public actor ConfigReloader {
  /// Takes the new configuration into one component (an applier per ``ReloadGroup``).
  public typealias Applier = @Sendable (CrispConfig) -> Void

  /// What one reload did, for logs and tests.
  public enum Outcome: Sendable, Equatable {
    /// The files did not load; nothing changed.
    case failed(ConfigError)
    /// The reloadable keys applied and the restart-only keys left as they were.
    case reloaded(applied: [String], needsRestart: [String])
  }

  private let source: ConfigReloadSource
  private let live: LiveConfig
  private let appliers: [ReloadGroup: Applier]
  private let logger: Logger

  public init(source: ConfigReloadSource, live: LiveConfig, appliers: [ReloadGroup: Applier], logger: Logger) {
    self.source = source
    self.live = live
    self.appliers = appliers
    self.logger = logger
  }

  /// The daemon's appliers: one entry per group.
  static func appliers(images: ImageManager, runtime: RuntimeManager) -> [ReloadGroup: Applier] {
    [
      .logLevel: { LogOutput.setLevel($0.log.level) },
      .registry: { images.applyRegistry($0.registry) },
      .imagePull: { images.applyPullProgressTimeout($0.imagePullProgressTimeout) },
      .cni: { runtime.networks.apply($0.cni) },
      .annotations: { runtime.applyAnnotationLists($0.runtime.handlers) },
      .cdi: { runtime.cdi.setDirectories($0.cdi.specDirs) },
    ]
  }

  @discardableResult
  public func reload() -> Outcome {
    let loaded: LoadedConfig
    do {
      loaded = try ConfigLoader.loadWithSources(path: source.path, required: source.required)
    } catch {
      logger.error("config reload failed, keeping the running configuration: \(error)")
      return .failed(error)
    }
    let running = live.current
    let plan = ConfigReloadPlan(running: running, loaded: source.overrides(loaded.config))
    for change in plan.restartOnly {
      logger.warning("config reload: \(change.key) changed; needs a restart, keeping \(change.kept)", metadata: ["wanted": "\(change.wanted)"])
    }
    for group in ReloadGroup.allCases where plan.groups.contains(group) {
      guard let applier = appliers[group] else {
        logger.error("config reload: no applier for \(group.rawValue); its keys take effect after a restart")
        continue
      }
      applier(plan.applied)
    }
    live.replace(with: plan.applied)
    if plan.reloaded.isEmpty {
      logger.info("config reload: nothing to apply", metadata: ["files": "\(loaded.files.joined(separator: ","))"])
    } else {
      logger.info(
        "config reload: applied \(plan.reloaded.joined(separator: ", "))", metadata: ["files": "\(loaded.files.joined(separator: ","))"])
    }
    return .reloaded(applied: plan.reloaded, needsRestart: plan.restartOnly.map(\.key))
  }
}
