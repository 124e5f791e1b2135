/// A configuration with where it came from: the daemon logs the files it read, `crisp config dump` shows
/// each value's file.
public struct LoadedConfig: Sendable, Equatable {
  public var config: CrispConfig
  /// The files merged, in order: the main file (when it exists), then each drop-in.
  public var files: [String]
  public var sources: ConfigSources

  public init(config: CrispConfig, files: [String], sources: ConfigSources) {
    self.config = config
    self.files = files
    self.sources = sources
  }
}
