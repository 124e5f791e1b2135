public import Config
import CrispCore
import Glibc

/// cgroup paths and layout: where a container's cgroup is, for runc and for reading OOM kills and stats.
public struct Cgroups: Sendable {
  public enum Layout: String, Sendable {
    /// Only cgroup v2 (`/sys/fs/cgroup` is cgroup2).
    case unified
    /// cgroup v1 controllers, possibly with a v2 hierarchy at /sys/fs/cgroup/unified (hybrid).
    case legacy
  }

  public let driver: CrispConfig.CgroupDriver
  public let layout: Layout
  public let mountPoint: String

  public init(driver: CrispConfig.CgroupDriver, mountPoint: String = "/sys/fs/cgroup") {
    self.driver = driver
    self.mountPoint = mountPoint
    layout = FilePath.exists("\(mountPoint)/cgroup.controllers") ? .unified : .legacy
  }

  /// The `cgroupsPath` runc gets for `id` under kubelet's `cgroup_parent`:
  /// cgroupfs `/kubepods/burstable/pod<uid>/<id>`, systemd `kubepods-burstable-pod<uid>.slice:crisp:<id>`.
  public func path(parent: String, id: String) -> String {
    switch driver {
    case .systemd:
      let slice = parent.isEmpty ? "system.slice" : FilePath.lastComponent(of: parent)
      return "\(slice):crisp:\(id)"
    case .cgroupfs, .auto:
      let base = parent.isEmpty ? "/crisp" : (parent.hasPrefix("/") ? parent : "/" + parent)
      return base.hasSuffix("/") ? base + id : base + "/" + id
    }
  }

  /// Removes an (empty) cgroup directory in every hierarchy, e.g. a parent crisp created for probes.
  public func removeEmpty(_ cgroupPath: String) {
    guard driver != .systemd else { return }
    var roots = [mountPoint]
    if layout == .legacy { roots = ((try? FilePath.listDirectory(mountPoint)) ?? []).map { "\(mountPoint)/\($0)" } }
    for root in roots { rmdir(root + cgroupPath) }
  }

  /// The container's memory cgroup directory on the host (for OOM kill counts and memory stats).
  public func memoryDirectory(cgroupsPath: String) -> String? {
    let relative = driver == .systemd ? Self.systemdDirectory(cgroupsPath) : cgroupsPath
    switch layout {
    case .unified: return mountPoint + relative
    case .legacy: return "\(mountPoint)/memory\(relative)"
    }
  }

  /// Where systemd puts `slice:prefix:name`: the slice expanded by its dashes (`a-b.slice` lives in
  /// `a.slice/a-b.slice`), and the unit `prefix-name.scope` inside it.
  static func systemdDirectory(_ cgroupsPath: String) -> String {
    let parts = cgroupsPath.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 3 else { return "/" + cgroupsPath }
    var path = ""
    let slice = parts[0].hasSuffix(".slice") ? String(parts[0].dropLast(".slice".count)) : parts[0]
    if !slice.isEmpty && slice != "-" {
      var prefix = ""
      for component in slice.split(separator: "-") {
        prefix = prefix.isEmpty ? String(component) : prefix + "-" + component
        path += "/\(prefix).slice"
      }
    }
    return "\(path)/\(parts[1])-\(parts[2]).scope"
  }
}
