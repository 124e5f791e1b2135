public import OCI

/// The edits for a container's CDI devices, resolved against the host and merged (each spec's common edits
/// once, then each device's, in request order), ready to apply to its OCI spec. Made in CreateContainer's
/// checks, before anything exists, so a device that cannot be given fails the call with nothing to undo.
public struct CDIEdits: Sendable, Equatable {
  /// The devices, as requested (duplicates removed), for logs and tests.
  public var devices: [CDIName] = []
  public var env: [String] = []
  public var deviceNodes: [Node] = []
  public var mounts: [OCISpec.Mount] = []
  public var hooks: [Hook] = []
  public var additionalGIDs: [UInt32] = []

  public init() {}

  /// A device node with the host's type and numbers filled in.
  public struct Node: Sendable, Equatable {
    public var device: OCISpec.Device
    /// Device cgroup access (`rwm` letters); nil for a fifo, which the device cgroup does not govern.
    public var access: String?
    /// The spec set uid (gid): device ownership from the security context leaves it alone.
    public var specOwnsUID: Bool
    public var specOwnsGID: Bool

    public init(device: OCISpec.Device, access: String?, specOwnsUID: Bool = false, specOwnsGID: Bool = false) {
      self.device = device
      self.access = access
      self.specOwnsUID = specOwnsUID
      self.specOwnsGID = specOwnsGID
    }
  }

  public struct Hook: Sendable, Equatable {
    /// One of ``CDIContainerEdits/Hook/stages``.
    public var stage: String
    public var hook: OCISpec.Hook

    public init(stage: String, hook: OCISpec.Hook) {
      self.stage = stage
      self.hook = hook
    }
  }

  /// Applies the edits as the CDI spec says: environment variables replace those of the same name, device
  /// nodes and mounts replace those at the same container path, device nodes are allowed in the device
  /// cgroup, hooks are appended to their stage, groups are added to the process's. Mounts are then ordered
  /// parents first (stable by path depth), so a CDI mount under another mount is not hidden by it.
  ///
  /// `owner`: device ownership from the security context; nodes whose spec names no uid (gid) get it.
  public func apply(to spec: inout OCISpec, owner: (uid: UInt32, gid: UInt32)? = nil) {
    var process = spec.process ?? OCISpec.Process()
    var environment = process.env ?? []
    for entry in env {
      let name = entry.prefix { $0 != "=" }
      if let index = environment.firstIndex(where: { $0.prefix { $0 != "=" } == name }) {
        environment[index] = entry
      } else {
        environment.append(entry)
      }
    }
    process.env = environment
    var groups = process.user.additionalGids ?? []
    for gid in additionalGIDs where gid != 0 && !groups.contains(gid) { groups.append(gid) }
    process.user.additionalGids = groups.isEmpty ? nil : groups
    spec.process = process

    var linux = spec.linux ?? OCISpec.Linux()
    var devices = linux.devices ?? []
    var resources = linux.resources ?? OCISpec.Resources()
    var rules = resources.devices ?? []
    for node in deviceNodes {
      var device = node.device
      if let owner {
        if !node.specOwnsUID { device.uid = owner.uid }
        if !node.specOwnsGID { device.gid = owner.gid }
      }
      devices.removeAll { $0.path == device.path }
      devices.append(device)
      if let access = node.access {
        rules.append(.init(allow: true, type: device.type == "b" ? "b" : "c", major: device.major, minor: device.minor, access: access))
      }
    }
    linux.devices = devices.isEmpty ? nil : devices
    resources.devices = rules.isEmpty ? nil : rules
    linux.resources = resources
    spec.linux = linux

    for mount in mounts {
      spec.mounts.removeAll { $0.destination == mount.destination }
      spec.mounts.append(mount)
    }
    if !mounts.isEmpty {
      spec.mounts = spec.mounts.enumerated().sorted { lhs, rhs in
        let (left, right) = (Self.depth(lhs.element.destination), Self.depth(rhs.element.destination))
        return left != right ? left < right : lhs.offset < rhs.offset
      }.map(\.element)
    }

    if !hooks.isEmpty {
      var all = spec.hooks ?? OCISpec.Hooks()
      for entry in hooks {
        switch entry.stage {
        case "prestart": all.prestart = (all.prestart ?? []) + [entry.hook]
        case "createRuntime": all.createRuntime = (all.createRuntime ?? []) + [entry.hook]
        case "createContainer": all.createContainer = (all.createContainer ?? []) + [entry.hook]
        case "startContainer": all.startContainer = (all.startContainer ?? []) + [entry.hook]
        case "poststart": all.poststart = (all.poststart ?? []) + [entry.hook]
        default: all.poststop = (all.poststop ?? []) + [entry.hook]
        }
      }
      spec.hooks = all
    }
  }

  /// Path components of a mount destination.
  static func depth(_ path: String) -> Int { path.split(separator: "/").count }
}
