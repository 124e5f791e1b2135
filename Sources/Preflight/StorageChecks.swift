import Config
import CrispCore
import Glibc

/// Free space and inodes under root and state, and whether their filesystems suit what crisp keeps there:
/// root (images, snapshots, the database) must outlive reboots and carry overlayfs; state (sockets,
/// namespace pins, bundles) is best on tmpfs, so a reboot starts it empty.
struct StorageChecks {
  var config: CrispConfig

  /// Below these root fails (a pull or unpack would fail midway); below the warn levels it warns.
  static let rootFailBytes: UInt64 = 1 << 30
  static let rootWarnBytes: UInt64 = 10 << 30
  static let stateFailBytes: UInt64 = 64 << 20
  static let failInodes: UInt64 = 10_000

  func run() -> [PreflightResult] {
    [root(), state()]
  }

  struct Filesystem {
    var path: String
    /// The mount's filesystem type from mountinfo (`ext4`, `tmpfs`, `overlay`, `nfs4`, …).
    var type: String
    var freeBytes: UInt64
    var freeInodes: UInt64
    var totalInodes: UInt64
  }

  /// statvfs of `path`, or of its closest existing parent when it does not exist yet, with the type of the
  /// mount holding it (the longest mount point that is a prefix of its real path).
  static func filesystem(_ path: String, mounts: [MountInfo] = MountInfo.current()) -> Filesystem? {
    let existing = ScratchDirectory.existingAncestor(path)
    var info = statvfs()
    guard statvfs(existing, &info) == 0 else { return nil }
    let (bytes, overflow) = UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize))
    var real = existing
    if let resolved = realpath(existing, nil) {
      real = String(cString: resolved)
      free(resolved)
    }
    let holder = mounts.filter { real == $0.mountPoint || real.hasPrefix($0.mountPoint == "/" ? "/" : $0.mountPoint + "/") }
      .max { $0.mountPoint.count < $1.mountPoint.count }
    return Filesystem(
      path: existing, type: holder.map { String($0.fsType) } ?? "unknown", freeBytes: overflow ? UInt64.max : bytes,
      freeInodes: UInt64(info.f_favail), totalInodes: UInt64(info.f_files))
  }

  static func size(_ bytes: UInt64) -> String {
    let gib = Double(bytes) / Double(1 << 30)
    return gib >= 1 ? String(format: "%.1f GiB", gib) : "\(bytes >> 20) MiB"
  }

  func root() -> PreflightResult {
    let name = "storage.root"
    guard let fs = Self.filesystem(config.root) else { return .fail(name, "cannot statvfs \(config.root)", remedy: "check the path") }
    let space = "\(Self.size(fs.freeBytes)) and \(fs.freeInodes) inodes free on \(fs.path) (\(fs.type))"
    switch fs.type {
    case "tmpfs":
      return .warn(
        name, "root \(config.root) is on tmpfs (\(space)): images and snapshots are lost at every reboot", remedy: "put root on a disk (ext4 or xfs)")
    case "overlay":
      return .warn(
        name, "root \(config.root) is on overlayfs (\(space)): overlayfs snapshots cannot stack on it, the native snapshotter copies",
        remedy: "put root on ext4 or xfs (outside a container's filesystem)")
    case "nfs", "nfs4":
      return .warn(
        name, "root \(config.root) is on NFS (\(space)): no overlayfs, slow unpacking, SQLite locking at risk", remedy: "put root on a local disk")
    default:
      break
    }
    if fs.freeBytes < Self.rootFailBytes || (fs.totalInodes > 0 && fs.freeInodes < Self.failInodes) {
      return .fail(name, "only \(space): image pulls will fail", remedy: "free space under \(fs.path) or move root (--root, `root`)")
    }
    if fs.freeBytes < Self.rootWarnBytes || (fs.totalInodes > 0 && fs.freeInodes < fs.totalInodes / 20) {
      return .warn(
        name, "\(space): little room for images and writable layers", remedy: "free space or move root; kubelet's image GC starts at 85% use")
    }
    return .ok(name, "\(config.root): \(space)")
  }

  func state() -> PreflightResult {
    let name = "storage.state"
    guard let fs = Self.filesystem(config.state) else { return .fail(name, "cannot statvfs \(config.state)", remedy: "check the path") }
    let space = "\(Self.size(fs.freeBytes)) and \(fs.freeInodes) inodes free on \(fs.path) (\(fs.type))"
    if fs.freeBytes < Self.stateFailBytes || (fs.totalInodes > 0 && fs.freeInodes < Self.failInodes / 10) {
      return .fail(name, "only \(space): bundles and sockets cannot be written", remedy: "free space under \(fs.path)")
    }
    if fs.type == "tmpfs" { return .ok(name, "\(config.state) on tmpfs: \(space)") }
    return .warn(
      name,
      "\(config.state) is on a persistent filesystem (\(space)): after a reboot, stale sockets and bundles are there until crisp's recovery removes them",
      remedy: "keep state under /run (tmpfs)")
  }
}
