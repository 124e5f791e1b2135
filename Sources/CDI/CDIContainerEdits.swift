/// What a CDI spec (for all its devices) or one device asks a runtime to change in a container's OCI spec:
/// environment, device nodes, mounts, hooks and additional groups.
public struct CDIContainerEdits: Sendable, Equatable, Decodable {
  public var env: [String] = []
  public var deviceNodes: [DeviceNode] = []
  public var mounts: [Mount] = []
  public var hooks: [Hook] = []
  public var additionalGIDs: [UInt32] = []
  /// Edits crisp cannot make (`intelRdt`, `netDevices`), by key: a device using them is refused when a
  /// container asks for it, never silently given without them.
  public var unsupported: [String] = []
  /// 1.1.0-only parts of `intelRdt` (`schemata`, `enableMonitoring`), for the version check.
  var usesNewIntelRdt = false

  public init() {}

  public var isEmpty: Bool {
    env.isEmpty && deviceNodes.isEmpty && mounts.isEmpty && hooks.isEmpty && additionalGIDs.isEmpty && unsupported.isEmpty
  }

  public init(from decoder: any Decoder) throws {
    let c = try CDIKey.container(decoder, allowed: ["env", "deviceNodes", "mounts", "hooks", "additionalGids", "intelRdt", "netDevices"])
    env = try c.decodeIfPresent([String].self, forKey: .init("env")) ?? []
    deviceNodes = try c.decodeIfPresent([DeviceNode].self, forKey: .init("deviceNodes")) ?? []
    mounts = try c.decodeIfPresent([Mount].self, forKey: .init("mounts")) ?? []
    hooks = try c.decodeIfPresent([Hook].self, forKey: .init("hooks")) ?? []
    additionalGIDs = try c.decodeIfPresent([UInt32].self, forKey: .init("additionalGids")) ?? []
    if c.contains(.init("intelRdt")), try !c.decodeNil(forKey: .init("intelRdt")) {
      unsupported.append("intelRdt")
      let rdt = try c.nestedContainer(keyedBy: CDIKey.self, forKey: .init("intelRdt"))
      usesNewIntelRdt = rdt.contains(.init("schemata")) || rdt.contains(.init("enableMonitoring"))
    }
    if c.contains(.init("netDevices")), try !c.decodeNil(forKey: .init("netDevices")) { unsupported.append("netDevices") }
  }

  /// A device node to create in the container. Type, major and minor left out are read from the host's
  /// node (`hostPath`, else `path`).
  public struct DeviceNode: Sendable, Equatable, Decodable {
    public var path: String
    public var hostPath: String?
    /// `c`, `b`, `u` (unbuffered character) or `p` (fifo).
    public var type: String?
    public var major: Int64?
    public var minor: Int64?
    public var fileMode: UInt32?
    /// cgroup access, letters of `rwm`; empty means `rwm`.
    public var permissions: String?
    public var uid: UInt32?
    public var gid: UInt32?

    public init(path: String, hostPath: String? = nil, type: String? = nil, major: Int64? = nil, minor: Int64? = nil, permissions: String? = nil) {
      self.path = path
      self.hostPath = hostPath
      self.type = type
      self.major = major
      self.minor = minor
      self.permissions = permissions
    }

    public init(from decoder: any Decoder) throws {
      let c = try CDIKey.container(decoder, allowed: ["path", "hostPath", "type", "major", "minor", "fileMode", "permissions", "uid", "gid"])
      path = try c.decode(String.self, forKey: .init("path"))
      hostPath = try c.decodeIfPresent(String.self, forKey: .init("hostPath"))
      type = try c.decodeIfPresent(String.self, forKey: .init("type"))
      major = try c.decodeIfPresent(Int64.self, forKey: .init("major"))
      minor = try c.decodeIfPresent(Int64.self, forKey: .init("minor"))
      fileMode = try c.decodeIfPresent(UInt32.self, forKey: .init("fileMode"))
      permissions = try c.decodeIfPresent(String.self, forKey: .init("permissions"))
      uid = try c.decodeIfPresent(UInt32.self, forKey: .init("uid"))
      gid = try c.decodeIfPresent(UInt32.self, forKey: .init("gid"))
    }
  }

  /// A mount into the container; without a `type` it is a bind mount of `hostPath`.
  public struct Mount: Sendable, Equatable, Decodable {
    public var hostPath: String
    public var containerPath: String
    public var options: [String]
    public var type: String?

    public init(hostPath: String, containerPath: String, options: [String] = [], type: String? = nil) {
      self.hostPath = hostPath
      self.containerPath = containerPath
      self.options = options
      self.type = type
    }

    public init(from decoder: any Decoder) throws {
      let c = try CDIKey.container(decoder, allowed: ["hostPath", "containerPath", "options", "type"])
      hostPath = try c.decode(String.self, forKey: .init("hostPath"))
      containerPath = try c.decode(String.self, forKey: .init("containerPath"))
      options = try c.decodeIfPresent([String].self, forKey: .init("options")) ?? []
      type = try c.decodeIfPresent(String.self, forKey: .init("type"))
    }
  }

  /// A program the runtime runs at one of the OCI hook stages.
  public struct Hook: Sendable, Equatable, Decodable {
    /// The OCI stages a CDI hook may name.
    public static let stages = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]

    public var hookName: String
    public var path: String
    public var args: [String]
    public var env: [String]
    public var timeout: Int?

    public init(hookName: String, path: String, args: [String] = [], env: [String] = [], timeout: Int? = nil) {
      self.hookName = hookName
      self.path = path
      self.args = args
      self.env = env
      self.timeout = timeout
    }

    public init(from decoder: any Decoder) throws {
      let c = try CDIKey.container(decoder, allowed: ["hookName", "path", "args", "env", "timeout"])
      hookName = try c.decode(String.self, forKey: .init("hookName"))
      path = try c.decode(String.self, forKey: .init("path"))
      args = try c.decodeIfPresent([String].self, forKey: .init("args")) ?? []
      env = try c.decodeIfPresent([String].self, forKey: .init("env")) ?? []
      timeout = try c.decodeIfPresent(Int.self, forKey: .init("timeout"))
    }
  }
}
