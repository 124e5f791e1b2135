import CrispCore

/// The parts of an image configuration crisp reads. Unknown fields are kept in the stored JSON, not here.
public struct ImageConfig: Codable, Sendable {
  public var architecture: String?
  public var os: String?
  public var variant: String?
  public var config: Runtime?
  public var rootfs: RootFS
  public var created: String?

  public init(config: Runtime?, rootfs: RootFS, architecture: String? = nil, os: String? = nil) {
    self.config = config
    self.rootfs = rootfs
    self.architecture = architecture
    self.os = os
  }

  /// The image's defaults for a container (`config` in the JSON, with Go-style capitalised keys).
  public struct Runtime: Codable, Sendable {
    public var user: String?
    public var env: [String]?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var workingDir: String?
    public var labels: [String: String]?
    public var stopSignal: String?
    public var exposedPorts: [String: EmptyObject]?
    public var volumes: [String: EmptyObject]?

    enum CodingKeys: String, CodingKey {
      case user = "User", env = "Env", entrypoint = "Entrypoint", cmd = "Cmd", workingDir = "WorkingDir"
      case labels = "Labels", stopSignal = "StopSignal", exposedPorts = "ExposedPorts", volumes = "Volumes"
    }

    public init() {}
  }

  public struct RootFS: Codable, Sendable {
    public var type: String
    public var diffIDs: [Digest]

    enum CodingKeys: String, CodingKey {
      case type
      case diffIDs = "diff_ids"
    }

    public init(diffIDs: [Digest]) {
      type = "layers"
      self.diffIDs = diffIDs
    }
  }

  public struct EmptyObject: Codable, Sendable, Hashable {
    public init() {}
  }
}
