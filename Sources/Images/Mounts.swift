public import CrispCore
import CLinux
import Glibc

/// Mount and unmount, with errors that say what was being mounted where.
public enum Mounts {
  public static func bind(_ source: String, at target: String, readOnly: Bool = false) throws(CrispError) {
    guard crisp_mount(source, target, nil, crisp_ms_bind() | crisp_ms_rec(), nil) == 0 else {
      throw CrispError.internalError("\(SystemError.last("bind mount", "\(source) on \(target)"))")
    }
    if readOnly {
      guard crisp_mount(nil, target, nil, crisp_ms_bind() | crisp_ms_remount() | crisp_ms_rdonly(), nil) == 0 else {
        let error = SystemError.last("remount read-only", target)
        _ = crisp_umount2(target, crisp_mnt_detach())
        throw CrispError.from(error)
      }
    }
  }

  public enum Flag: Sendable { case nosuid, nodev, noexec, readOnly }

  /// Makes the mount at `target` read-only, nosuid and nodev (its own mount flags, not the filesystem's):
  /// for image volume views, which a container must never write to or gain privileges through.
  static func restrictReadOnly(_ target: String) throws(CrispError) {
    let flags = crisp_ms_bind() | crisp_ms_remount() | crisp_ms_rdonly() | crisp_ms_nosuid() | crisp_ms_nodev()
    guard crisp_mount(nil, target, nil, flags, nil) == 0 else {
      throw CrispError.from(SystemError.last("remount read-only, nosuid, nodev", target))
    }
  }

  /// Mounts a tmpfs on `target` (a pod's /dev/shm).
  public static func tmpfs(at target: String, options: String, flags: [Flag]) throws(CrispError) {
    var bits: UInt = 0
    for flag in flags {
      switch flag {
      case .nosuid: bits |= crisp_ms_nosuid()
      case .nodev: bits |= crisp_ms_nodev()
      case .noexec: bits |= crisp_ms_noexec()
      case .readOnly: bits |= crisp_ms_rdonly()
      }
    }
    guard crisp_mount("shm", target, "tmpfs", bits, options) == 0 else {
      throw CrispError.from(SystemError.last("mount tmpfs", target))
    }
  }

  /// Attaches at `target` a clone of the mount at `source` whose file owners are shifted through the user
  /// namespace pinned at `userns`: a file owned by 0 on disk appears owned by the namespace's root. The
  /// clone holds only `source`'s own mount (not mounts below it).
  public static func idmappedClone(_ source: String, userns: String, at target: String) throws(CrispError) {
    let status = crisp_idmap_clone(source, userns, target)
    guard status == 0 else {
      let reason = status == EINVAL ? "the filesystem does not support idmapped mounts" : SystemError("idmap", source, errno: status).strerror
      throw CrispError.invalidArgument("idmapped mount of \(source) on \(target): \(reason)")
    }
  }

  /// Detaches every mount at or below `directory` (deepest first), e.g. staging mounts a daemon killed half
  /// way left behind, so that removing the directory can never reach into another filesystem.
  public static func unmountAll(under directory: String) {
    // mountinfo shows real paths: a state directory reached through a symlink must be resolved to match.
    var directory = directory
    if let resolved = realpath(directory, nil) {
      directory = String(cString: resolved)
      free(resolved)
    }
    let prefix = directory.hasSuffix("/") ? directory : directory + "/"
    let targets = mountPoints().filter { $0 == directory || $0.hasPrefix(prefix) }.sorted { $0.count > $1.count }
    for target in targets { _ = crisp_umount2(target, crisp_mnt_detach()) }
  }

  /// Takes down staging mount points this process made: detaches each, removes the (now empty) mount point
  /// itself, never anything below it, then the directory holding them. Nothing is removed recursively, so a
  /// mount that would not go away keeps what it shows.
  public static func removeStaging(_ targets: [String], in directory: String) {
    for target in targets {
      _ = crisp_umount2(target, crisp_mnt_detach())
      if rmdir(target) != 0 && errno == ENOTDIR { unlink(target) }
    }
    rmdir(directory)
  }

  /// Unmounts everything stacked on `target`. Not mounted (or missing) is fine: unmounting is idempotent.
  /// Returns whether something was unmounted.
  @discardableResult
  public static func unmount(_ target: String) throws(CrispError) -> Bool {
    var unmounted = false
    while isMountPoint(target) {
      if crisp_umount2(target, 0) != 0 {
        let err = errno
        if err == EINVAL || err == ENOENT { break }
        // Busy (a process still has it open): detach so it goes away once the last user does.
        guard err == EBUSY, crisp_umount2(target, crisp_mnt_detach()) == 0 else {
          throw CrispError.internalError("\(SystemError("unmount", target, errno: err))")
        }
      }
      unmounted = true
    }
    return unmounted
  }

  /// Whether `path` is a mount point: the kernel's STATX_ATTR_MOUNT_ROOT (exact, unlike comparing st_dev),
  /// else /proc/self/mountinfo. On a node with many containers mountinfo runs to hundreds of kilobytes, and
  /// every removal asks this.
  public static func isMountPoint(_ path: String) -> Bool {
    errno = 0
    switch crisp_is_mount_root(AT_FDCWD, path) {
    case 1: return true
    case 0: return false
    default:
      if errno == ENOENT || errno == ENOTDIR { return false }
      return mountPoints().contains(path)
    }
  }

  /// Every mount point of this mount namespace.
  public static func mountPoints() -> Set<String> {
    Set(MountInfo.current().map(\.mountPoint))
  }
}

/// Mounts overlayfs with a layer chain of any length.
enum OverlayMount {
  /// Legacy mount(2) data is limited to one page; longer layer lists go through the new mount API, which
  /// takes the layers one by one (`lowerdir+`).
  static let pageLimit = 4095

  static func mount(lowers: [String], upper: String, work: String, target: String) throws(CrispError) {
    try mount(lowers: lowers, writable: (upper, work), target: target)
  }

  /// An overlay of `lowers` only: read-only by construction (overlayfs needs at least two lower layers
  /// then).
  static func mountReadOnly(lowers: [String], target: String) throws(CrispError) {
    try mount(lowers: lowers, writable: nil, target: target)
  }

  private static func mount(lowers: [String], writable: (upper: String, work: String)?, target: String) throws(CrispError) {
    var data = "lowerdir=\(lowers.joined(separator: ":"))"
    if let writable { data += ",upperdir=\(writable.upper),workdir=\(writable.work)" }
    if data.utf8.count <= pageLimit {
      guard crisp_mount("overlay", target, "overlay", 0, data) == 0 else {
        throw CrispError.from(SystemError.last("mount overlay", target))
      }
      return
    }
    let fd = crisp_fsopen("overlay", 0)
    guard fd >= 0 else { throw CrispError.from(SystemError.last("fsopen overlay", target)) }
    defer { close(fd) }
    for lower in lowers {
      guard crisp_fsconfig_string(fd, "lowerdir+", lower) == 0 else {
        throw CrispError.internalError("\(SystemError.last("overlay lowerdir+ (needs Linux 6.8 for \(lowers.count) layers)", lower))")
      }
    }
    if let writable {
      guard crisp_fsconfig_string(fd, "upperdir", writable.upper) == 0, crisp_fsconfig_string(fd, "workdir", writable.work) == 0 else {
        throw CrispError.from(SystemError.last("configure overlay", target))
      }
    }
    guard crisp_fsconfig_create(fd) == 0 else { throw CrispError.from(SystemError.last("configure overlay", target)) }
    let mountFD = crisp_fsmount(fd)
    guard mountFD >= 0 else { throw CrispError.from(SystemError.last("fsmount overlay", target)) }
    defer { close(mountFD) }
    guard crisp_move_mount_to(mountFD, target) == 0 else {
      throw CrispError.from(SystemError.last("move_mount overlay", target))
    }
  }
}

/// Checks that overlayfs works on a filesystem the way crisp uses it (the `auto` snapshotter and `crisp check`).
public enum OverlayProbe {
  /// Why overlayfs cannot be used under `root`, or nil when a test mount with a whiteout and an opaque
  /// directory behaves.
  public static func problem(in root: String) -> String? {
    let probe = "\(root)/.overlay-probe-\(getpid())"
    defer {
      _ = try? Mounts.unmount("\(probe)/merged")
      try? FilePath.removeTree(probe)
    }
    do {
      for dir in ["lower", "upper", "work", "merged"] { try FilePath.makeDirectories("\(probe)/\(dir)", mode: 0o700) }
      try AtomicFile.write("x", to: "\(probe)/lower/file")
    } catch {
      return "cannot create test directories: \(error)"
    }
    if !DirectoryTypes.supported("\(probe)/lower") {
      return "the filesystem does not report file types in directory entries (d_type); overlayfs needs them"
    }
    if mknod("\(probe)/upper/file", S_IFCHR, crisp_makedev(0, 0)) != 0 {
      return "cannot create whiteout devices: \(SystemError.last("mknod", "whiteout"))"
    }
    let value: [UInt8] = [UInt8(ascii: "y")]
    if value.withUnsafeBytes({ crisp_lsetxattr("\(probe)/upper", "trusted.overlay.opaque", $0.baseAddress, $0.count) }) != 0 {
      return "cannot set trusted.* xattrs: \(SystemError.last("setxattr", "trusted.overlay.opaque"))"
    }
    do {
      try OverlayMount.mount(lowers: ["\(probe)/lower"], upper: "\(probe)/upper", work: "\(probe)/work", target: "\(probe)/merged")
    } catch {
      return "test mount failed: \(error.message)"
    }
    if FilePath.exists("\(probe)/merged/file") {
      return "a whiteout in the upper layer did not hide the lower file"
    }
    return nil
  }
}

/// Whether a filesystem fills in d_type.
enum DirectoryTypes {
  static func supported(_ directory: String) -> Bool {
    guard let dir = opendir(directory) else { return false }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      if name == "." || name == ".." { continue }
      return entry.pointee.d_type != UInt8(DT_UNKNOWN)
    }
    return false
  }
}

/// Bytes and inodes used under a directory.
///
/// The directory may be a container's writable layer: the walk (``DiskUsageWalk``) is a loop over a
/// ``TreeWalk`` (any depth, a bounded number of open directories, raw names, no symlink followed, no other
/// mount entered). A walk that cannot finish says so in ``Usage/failure`` instead of answering a smaller
/// number as if it were the total.
public enum DiskUsage {
  public struct Usage: Sendable, Equatable {
    public var bytes: Int64 = 0
    public var inodes: Int64 = 0
    /// Why the walk stopped early (the numbers then count only what it reached); nil when it saw everything.
    public var failure: String?
    public var complete: Bool { failure == nil }
  }

  /// Walks `path` in one go, again from the top when a directory the walk had to close was moved meanwhile
  /// (up to ``attempts`` times): a container renaming directories in a loop must not keep its usage
  /// uncounted.
  public static func measure(_ path: String, openLimit: Int = TreeWalk.defaultOpenLimit) -> Usage {
    let walk = DiskUsageWalk(path, openLimit: openLimit)
    while walk.step(budget: Int.max) == .more {}
    return walk.usage
  }

  static let attempts = 3
}

extension DiskUsage.Usage {
  mutating func add(_ info: stat) {
    inodes = inodes < Int64.max ? inodes + 1 : inodes
    let (blockBytes, overflow) = Int64(info.st_blocks).multipliedReportingOverflow(by: 512)
    let (sum, sumOverflow) = bytes.addingReportingOverflow(blockBytes)
    bytes = overflow || sumOverflow ? Int64.max : sum
  }
}
