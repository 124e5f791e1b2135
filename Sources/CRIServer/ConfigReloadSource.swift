public import Config

/// Where the daemon re-reads its configuration on SIGHUP: the main file (its drop-ins beside it), and the
/// command-line overrides to apply over it again, so a flag keeps winning over the files after a reload.
public struct ConfigReloadSource: Sendable {
  public let path: String
  /// Whether the main file was named explicitly (`--config`): then, with no drop-ins, it must exist.
  public let required: Bool
  public let overrides: @Sendable (CrispConfig) -> CrispConfig

  public init(path: String, required: Bool, overrides: @escaping @Sendable (CrispConfig) -> CrispConfig) {
    self.path = path
    self.required = required
    self.overrides = overrides
  }
}
