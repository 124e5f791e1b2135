import Config
import CrispCore

/// The cgroup layout (v1, v2 or hybrid), the controllers crisp's containers are limited by, and the driver
/// crisp and kubelet must agree on.
struct CgroupChecks {
  var config: CrispConfig
  var mounts: [MountInfo] = MountInfo.current()
  /// `/proc/cgroups`: v1 controllers and whether each is enabled.
  var procCgroups: String = ((try? FilePath.readText("/proc/cgroups")) ?? nil) ?? ""
  var pid1IsSystemd: Bool = Host.pid1IsSystemd

  /// What runc limits a pod with; without one of them resource requests are not enforced.
  static let requiredV1 = ["cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio"]
  static let requiredV2 = ["cpu", "cpuset", "memory", "pids", "io"]

  enum Layout: String, Equatable {
    case v1, v2, hybrid, none
  }

  func run() -> [PreflightResult] {
    [version(), controllers(), driver()]
  }

  /// The cgroup2 mount, and the v1 hierarchies by mount point.
  var v2Mount: String? { mounts.first { $0.fsType == "cgroup2" && $0.root == "/" }?.mountPoint }
  var v1Mounts: [MountInfo] { mounts.filter { $0.fsType == "cgroup" } }

  var layout: Layout {
    switch (v1Mounts.isEmpty, v2Mount) {
    case (true, nil): .none
    case (true, _): .v2
    case (false, nil): .v1
    case (false, _): .hybrid
    }
  }

  func version() -> PreflightResult {
    let name = "cgroups.version"
    switch layout {
    case .none:
      return .fail(name, "no cgroup filesystem is mounted", remedy: "mount cgroup2 at /sys/fs/cgroup (systemd does this at boot)")
    case .v2:
      return .ok(name, "cgroup v2 (unified) at \(v2Mount ?? "?")")
    case .v1:
      return .ok(name, "cgroup v1 (\(v1Mounts.count) hierarchies); Kubernetes has deprecated v1 support: plan for cgroup v2")
    case .hybrid:
      return .ok(
        name,
        "hybrid: cgroup v1 controllers with a cgroup v2 mount at \(v2Mount ?? "?"); limits use the v1 controllers (v1 support is deprecated in Kubernetes)"
      )
    }
  }

  func controllers() -> PreflightResult {
    let name = "cgroups.controllers"
    if layout == .v2, let root = v2Mount {
      let available = Self.words((try? FilePath.readText(root + "/cgroup.controllers")) ?? nil)
      let delegated = Self.words((try? FilePath.readText(root + "/cgroup.subtree_control")) ?? nil)
      let missing = Self.requiredV2.filter { !available.contains($0) }
      if !missing.isEmpty {
        return .fail(
          name, "cgroup v2 lacks \(missing.joined(separator: ", ")) (available: \(available.joined(separator: " ")))",
          remedy: "enable the controllers in the kernel (cgroup_enable=… on the kernel command line)")
      }
      let undelegated = Self.requiredV2.filter { !delegated.contains($0) }
      if !undelegated.isEmpty {
        return .warn(
          name, "available: \(available.joined(separator: " ")); not in \(root)/cgroup.subtree_control: \(undelegated.joined(separator: ", "))",
          remedy: "delegate them (systemd: Delegate=yes in crisp.service; otherwise echo +cpu +memory … > \(root)/cgroup.subtree_control)")
      }
      return .ok(name, "available and delegated: \(available.joined(separator: " "))")
    }
    var enabled: [String] = []
    for line in procCgroups.split(separator: "\n") where !line.hasPrefix("#") {
      let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
      guard fields.count >= 4, fields[3] == "1" else { continue }
      // Mounted in a v1 hierarchy: its controller name appears in that mount's options.
      let controller = String(fields[0])
      if v1Mounts.contains(where: { $0.superOptions.split(separator: ",").contains(Substring(controller)) }) { enabled.append(controller) }
    }
    let missing = Self.requiredV1.filter { !enabled.contains($0) }
    if !missing.isEmpty {
      return .fail(
        name, "cgroup v1 controllers not mounted: \(missing.joined(separator: ", ")) (mounted: \(enabled.joined(separator: " ")))",
        remedy: "mount each under /sys/fs/cgroup/<name> (systemd does this at boot)")
    }
    var message = "v1: \(enabled.joined(separator: " "))"
    if layout == .hybrid, let root = v2Mount {
      let v2 = Self.words((try? FilePath.readText(root + "/cgroup.controllers")) ?? nil)
      message += "; v2 at \(root): \(v2.isEmpty ? "no controllers" : v2.joined(separator: " "))"
    }
    return .ok(name, message)
  }

  func driver() -> PreflightResult {
    let name = "cgroups.driver"
    let init1 = pid1IsSystemd ? "PID 1 is systemd" : "PID 1 is not systemd"
    switch config.cgroupDriver {
    case .auto:
      let chosen = pid1IsSystemd ? "systemd" : "cgroupfs"
      return .ok(name, "\(chosen) (cgroup_driver = \"auto\"; \(init1)); kubelet's cgroupDriver must be \(chosen)")
    case .systemd where !pid1IsSystemd:
      return .fail(
        name, "cgroup_driver = \"systemd\" but \(init1): runc cannot create systemd scopes",
        remedy: "set cgroup_driver = \"cgroupfs\" (or \"auto\") and kubelet's cgroupDriver to cgroupfs")
    case .cgroupfs where pid1IsSystemd:
      return .warn(
        name, "cgroup_driver = \"cgroupfs\" while \(init1): two managers of one tree, which Kubernetes advises against",
        remedy: "set cgroup_driver = \"systemd\" (or \"auto\") and kubelet's cgroupDriver to systemd")
    case .systemd, .cgroupfs:
      return .ok(name, "\(config.cgroupDriver.rawValue) (\(init1)); kubelet's cgroupDriver must be \(config.cgroupDriver.rawValue)")
    }
  }

  static func words(_ text: String?) -> [String] { (text ?? "").split(separator: " ").map(String.init) }
}
