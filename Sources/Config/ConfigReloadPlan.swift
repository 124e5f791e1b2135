/// What a reload does with a newly loaded configuration: which reloadable keys take their new value,
/// which changed keys need a restart (and keep their running value), and the configuration that results.
///
/// Computed from two immutable snapshots, so it is a pure function a test can drive key by key.
public struct ConfigReloadPlan: Sendable {
  /// A changed key that needs a restart: its name, the running value kept, the value the files now ask for.
  public struct RestartOnly: Sendable, Equatable {
    public let key: String
    public let kept: String
    public let wanted: String

    public init(key: String, kept: String, wanted: String) {
      self.key = key
      self.kept = kept
      self.wanted = wanted
    }
  }

  /// The configuration to run with: the running one with every reloadable key taken from the new one.
  public let applied: CrispConfig
  /// The reloadable keys that changed, by name.
  public let reloaded: [String]
  /// The groups whose appliers must run (those with a changed key).
  public let groups: Set<ReloadGroup>
  /// The keys that changed and need a restart.
  public let restartOnly: [RestartOnly]

  public init(running: CrispConfig, loaded: CrispConfig, keys: [ReloadKey] = ReloadKeys.all) {
    var applied = running
    var reloaded: [String] = []
    var groups: Set<ReloadGroup> = []
    var restartOnly: [RestartOnly] = []
    for key in keys where key.changed(from: running, to: loaded) {
      if let group = key.group {
        key.carry(into: &applied, from: loaded)
        reloaded.append(key.name)
        groups.insert(group)
      } else {
        restartOnly.append(RestartOnly(key: key.name, kept: key.value(in: running), wanted: key.value(in: loaded)))
      }
    }
    // Whatever the table does not name can only be noticed, not applied: say so rather than drop it.
    var everything = applied
    for key in keys where key.group == nil { key.carry(into: &everything, from: loaded) }
    if everything != loaded {
      restartOnly.append(RestartOnly(key: "(a key not in the reload table)", kept: "running value", wanted: "new value"))
    }
    self.applied = applied
    self.reloaded = reloaded
    self.groups = groups
    self.restartOnly = restartOnly
  }
}
