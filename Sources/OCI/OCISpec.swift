/// The OCI runtime spec (config.json) as crisp writes it for runc/crun: only the fields crisp sets, with
/// the spec's JSON names. Optional fields left nil are omitted.
public struct OCISpec: Codable, Sendable, Equatable {
  public var ociVersion = "1.0.2"
  public var process: Process?
  public var root: Root?
  public var hostname: String?
  public var mounts: [Mount] = []
  /// Programs the runtime runs around the container's life (CDI devices bring some).
  public var hooks: Hooks?
  public var annotations: [String: String]?
  public var linux: Linux?

  public init() {}

  public struct Process: Codable, Sendable, Equatable {
    public var terminal: Bool?
    public var consoleSize: ConsoleSize?
    public var user = User()
    public var args: [String] = []
    public var env: [String]?
    public var cwd = "/"
    public var capabilities: Capabilities?
    public var rlimits: [Rlimit]?
    public var noNewPrivileges: Bool?
    public var apparmorProfile: String?
    public var oomScoreAdj: Int?
    public var selinuxLabel: String?

    public init() {}
  }

  public struct ConsoleSize: Codable, Sendable, Equatable {
    public var height: UInt32
    public var width: UInt32

    public init(height: UInt32, width: UInt32) {
      self.height = height
      self.width = width
    }
  }

  public struct User: Codable, Sendable, Equatable {
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    public var umask: UInt32?
    public var additionalGids: [UInt32]?
    public init() {}
  }

  public struct Capabilities: Codable, Sendable, Equatable {
    public var bounding: [String]?
    public var effective: [String]?
    public var inheritable: [String]?
    public var permitted: [String]?
    public var ambient: [String]?

    public init(all: [String]) {
      bounding = all
      effective = all
      permitted = all
      inheritable = []
      ambient = []
    }
  }

  public struct Rlimit: Codable, Sendable, Equatable {
    public var type: String
    public var hard: UInt64
    public var soft: UInt64

    public init(type: String, hard: UInt64, soft: UInt64) {
      self.type = type
      self.hard = hard
      self.soft = soft
    }
  }

  public struct Root: Codable, Sendable, Equatable {
    public var path: String
    public var readonly: Bool?

    public init(path: String, readonly: Bool? = nil) {
      self.path = path
      self.readonly = readonly
    }
  }

  public struct Mount: Codable, Sendable, Equatable {
    public var destination: String
    public var type: String?
    public var source: String?
    public var options: [String]?

    public init(destination: String, type: String?, source: String?, options: [String]?) {
      self.destination = destination
      self.type = type
      self.source = source
      self.options = options
    }
  }

  /// The OCI hook stages runc runs, each a list run in order.
  public struct Hooks: Codable, Sendable, Equatable {
    public var prestart: [Hook]?
    public var createRuntime: [Hook]?
    public var createContainer: [Hook]?
    public var startContainer: [Hook]?
    public var poststart: [Hook]?
    public var poststop: [Hook]?

    public init() {}
  }

  public struct Hook: Codable, Sendable, Equatable {
    /// Absolute path of the program, in the runtime's namespace (createContainer and startContainer: the
    /// container's).
    public var path: String
    public var args: [String]?
    public var env: [String]?
    /// Seconds before the runtime kills the hook and fails the container.
    public var timeout: Int?

    public init(path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
      self.path = path
      self.args = args
      self.env = env
      self.timeout = timeout
    }
  }

  public struct Linux: Codable, Sendable, Equatable {
    public var uidMappings: [IDMapping]?
    public var gidMappings: [IDMapping]?
    public var sysctl: [String: String]?
    public var resources: Resources?
    public var cgroupsPath: String?
    public var namespaces: [Namespace] = []
    public var devices: [Device]?
    public var seccomp: Seccomp?
    public var rootfsPropagation: String?
    public var maskedPaths: [String]?
    public var readonlyPaths: [String]?
    public var mountLabel: String?

    public init() {}
  }

  public struct IDMapping: Codable, Sendable, Equatable {
    public var containerID: UInt32
    public var hostID: UInt32
    public var size: UInt32

    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
      self.containerID = containerID
      self.hostID = hostID
      self.size = size
    }
  }

  public struct Namespace: Codable, Sendable, Equatable {
    public var type: String
    public var path: String?

    public init(_ type: String, path: String? = nil) {
      self.type = type
      self.path = path
    }
  }

  public struct Device: Codable, Sendable, Equatable {
    public var type: String
    public var path: String
    public var major: Int64?
    public var minor: Int64?
    public var fileMode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?

    public init(type: String, path: String, major: Int64? = nil, minor: Int64? = nil, fileMode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil)
    {
      self.type = type
      self.path = path
      self.major = major
      self.minor = minor
      self.fileMode = fileMode
      self.uid = uid
      self.gid = gid
    }
  }

  public struct Resources: Codable, Sendable, Equatable {
    public var devices: [DeviceRule]?
    public var memory: Memory?
    public var cpu: CPU?
    public var pids: Pids?
    public var hugepageLimits: [HugepageLimit]?
    public var unified: [String: String]?

    public init() {}
  }

  public struct DeviceRule: Codable, Sendable, Equatable {
    public var allow: Bool
    public var type: String?
    public var major: Int64?
    public var minor: Int64?
    public var access: String?

    public init(allow: Bool, type: String? = nil, major: Int64? = nil, minor: Int64? = nil, access: String? = nil) {
      self.allow = allow
      self.type = type
      self.major = major
      self.minor = minor
      self.access = access
    }
  }

  public struct Memory: Codable, Sendable, Equatable {
    public var limit: Int64?
    public var reservation: Int64?
    public var swap: Int64?
    public init() {}
  }

  public struct CPU: Codable, Sendable, Equatable {
    public var shares: UInt64?
    public var quota: Int64?
    public var period: UInt64?
    public var cpus: String?
    public var mems: String?
    public init() {}
  }

  public struct Pids: Codable, Sendable, Equatable {
    public var limit: Int64

    public init(limit: Int64) {
      self.limit = limit
    }
  }

  public struct HugepageLimit: Codable, Sendable, Equatable {
    public var pageSize: String
    public var limit: UInt64

    public init(pageSize: String, limit: UInt64) {
      self.pageSize = pageSize
      self.limit = limit
    }
  }

  public struct Seccomp: Codable, Sendable, Equatable {
    public var defaultAction: String
    public var defaultErrnoRet: UInt32?
    public var architectures: [String]?
    public var flags: [String]?
    public var syscalls: [SyscallRule]?

    public init(
      defaultAction: String, defaultErrnoRet: UInt32? = nil, architectures: [String]? = nil, flags: [String]? = nil, syscalls: [SyscallRule]? = nil
    ) {
      self.defaultAction = defaultAction
      self.defaultErrnoRet = defaultErrnoRet
      self.architectures = architectures
      self.flags = flags
      self.syscalls = syscalls
    }
  }

  public struct SyscallRule: Codable, Sendable, Equatable {
    public var names: [String]
    public var action: String
    public var errnoRet: UInt32?
    public var args: [SyscallArgument]?

    public init(names: [String], action: String, errnoRet: UInt32? = nil, args: [SyscallArgument]? = nil) {
      self.names = names
      self.action = action
      self.errnoRet = errnoRet
      self.args = args
    }
  }

  public struct SyscallArgument: Codable, Sendable, Equatable {
    public var index: UInt32
    public var value: UInt64
    public var valueTwo: UInt64?
    public var op: String

    public init(index: UInt32, value: UInt64, valueTwo: UInt64? = nil, op: String) {
      self.index = index
      self.value = value
      self.valueTwo = valueTwo
      self.op = op
    }
  }
}
