import CrispCore
import CLinux
import Glibc

/// How whiteouts (deletions recorded in a layer) are stored in the layer's directory.
enum WhiteoutStyle {
  /// overlayfs's own: a 0/0 character device for a deleted name, `trusted.overlay.opaque=y` on a directory
  /// whose lower content is hidden. The kernel applies them when the layers are mounted.
  case overlay
  /// The OCI `.wh.` marker files, kept as they are; the native snapshotter turns them into deletions when
  /// it assembles a container's root filesystem.
  case markers
}

/// Writes one layer's tar stream into an empty directory, refusing anything that could touch the host.
///
/// Every entry is resolved relative to the layer directory with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS),
/// so `..`, absolute paths, writes through symlinks and hard links to outside targets fail with the entry
/// named instead of escaping. Owners, modes, mtimes, hard links, symlinks, devices, fifos and xattrs
/// (including `security.capability`) are preserved.
struct LayerApplier {
  let rootFD: Int32
  let rootPath: String
  let whiteouts: WhiteoutStyle
  let layerName: String
  /// Directory mtimes are set last: creating entries inside a directory changes its mtime. One slot per
  /// directory (a layer naming one directory a million times holds one), the last entry's time wins.
  private var directoryTimes: [(path: String, seconds: Int64, nanoseconds: Int64)] = []
  private var directorySlots: [String: Int] = [:]
  private let copyBuffer: UnsafeMutableRawBufferPointer

  init(directory: String, whiteouts: WhiteoutStyle, layerName: String) throws(CrispError) {
    let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw CrispError.from(SystemError.last("open", directory)) }
    rootFD = fd
    rootPath = directory
    self.whiteouts = whiteouts
    self.layerName = layerName
    copyBuffer = .allocate(byteCount: 1 << 20, alignment: 16)
  }

  func close() {
    Glibc.close(rootFD)
    copyBuffer.deallocate()
  }

  private func refuse(_ entry: String, _ why: String) -> CrispError {
    CrispError.invalidArgument("\(layerName): entry \"\(entry)\": \(why)")
  }

  /// The entry's path as components inside the layer, or a refusal for anything that leaves it.
  func components(of path: String, entry: String) throws(CrispError) -> [Substring] {
    if path.utf8.contains(0) { throw refuse(entry, "a NUL byte in a path") }
    if path.hasPrefix("/") { throw refuse(entry, "absolute paths are not allowed in a layer") }
    var parts: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
      if part == "." { continue }
      if part == ".." { throw refuse(entry, "path escapes the layer (\"..\")") }
      parts.append(part)
    }
    return parts
  }

  /// Opens `components` as a directory beneath the root, creating missing directories (0755, owned by root)
  /// as tar streams without explicit parent entries need. Missing parents are made walking down one level
  /// at a time (no recursion, two descriptors open at most), however deep the path.
  private func openDirectory(_ components: ArraySlice<Substring>, entry: String, create: Bool) throws(CrispError) -> Int32 {
    let resolve = UInt64(CRISP_RESOLVE_BENEATH | CRISP_RESOLVE_NO_SYMLINKS | CRISP_RESOLVE_NO_MAGICLINKS)
    let relative = components.isEmpty ? "." : components.joined(separator: "/")
    let fd = crisp_openat2(rootFD, relative, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, resolve)
    if fd >= 0 { return fd }
    let err = errno
    guard err == ENOENT && create && !components.isEmpty else { throw openFailure(err, relative, entry: entry) }
    var current = crisp_openat2(rootFD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, resolve)
    guard current >= 0 else { throw openFailure(errno, ".", entry: entry) }
    for component in components {
      // One name, never "..": components(of:) refused those.
      let name = String(component)
      var next = crisp_openat2(current, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, resolve)
      if next < 0 && errno == ENOENT {
        if mkdirat(current, name, 0o755) == 0 {
          // Exactly 0755, whatever the process umask.
          _ = fchmodat(current, name, 0o755, 0)
        } else if errno != EEXIST {
          let error = refuse(entry, "\(SystemError.last("mkdir", name))")
          Glibc.close(current)
          throw error
        }
        next = crisp_openat2(current, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, resolve)
      }
      let nextErr = errno
      Glibc.close(current)
      guard next >= 0 else { throw openFailure(nextErr, relative, entry: entry) }
      current = next
    }
    return current
  }

  private func openFailure(_ err: Int32, _ relative: String, entry: String) -> CrispError {
    switch err {
    case ELOOP: return refuse(entry, "path goes through a symlink")
    case EXDEV: return refuse(entry, "path escapes the layer")
    case ENOTDIR: return refuse(entry, "a parent of this path is not a directory")
    default: return refuse(entry, "\(SystemError("open", relative, errno: err))")
    }
  }

  /// Applies the whole stream; returns nothing, throws on the first refused or broken entry.
  mutating func apply<Source: ByteSource>(_ reader: inout TarReader<Source>) throws(CrispError) {
    while let entry = try reader.next() {
      try apply(entry, &reader)
    }
    // Directories are reopened the safe way: a later entry may have replaced one with a symlink.
    let resolve = UInt64(CRISP_RESOLVE_BENEATH | CRISP_RESOLVE_NO_SYMLINKS | CRISP_RESOLVE_NO_MAGICLINKS)
    for directory in directoryTimes.reversed() {
      let fd = crisp_openat2(rootFD, directory.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, resolve)
      guard fd >= 0 else { continue }
      var times = [
        timespec(tv_sec: Int(directory.seconds), tv_nsec: Int(directory.nanoseconds)),
        timespec(tv_sec: Int(directory.seconds), tv_nsec: Int(directory.nanoseconds)),
      ]
      _ = futimens(fd, &times)
      Glibc.close(fd)
    }
  }

  private mutating func recordDirectoryTime(_ path: String, _ entry: TarEntry) {
    let time = (path, entry.modificationTime.seconds, entry.modificationTime.nanoseconds)
    if let slot = directorySlots[path] {
      directoryTimes[slot] = time
    } else {
      directorySlots[path] = directoryTimes.count
      directoryTimes.append(time)
    }
  }

  private mutating func apply<Source: ByteSource>(_ entry: TarEntry, _ reader: inout TarReader<Source>) throws(CrispError) {
    let parts = try components(of: entry.path, entry: entry.path)
    guard let leaf = parts.last.map(String.init) else {
      // The layer root itself ("./"): only its attributes apply.
      if entry.kind == .directory {
        _ = fchown(rootFD, entry.uid, entry.gid)
        _ = fchmod(rootFD, mode_t(entry.mode & 0o7777))
        recordDirectoryTime(".", entry)
      }
      return
    }
    let parent = try openDirectory(parts.dropLast(), entry: entry.path, create: true)
    defer { Glibc.close(parent) }

    if leaf.hasPrefix(".wh.") {
      let target = String(leaf.dropFirst(".wh.".count))
      guard leaf == ".wh..wh..opq" || (!target.isEmpty && target != "." && target != ".." && !target.hasPrefix(".wh.")) else {
        throw refuse(entry.path, "malformed whiteout")
      }
      try applyWhiteout(leaf, parent: parent, entry: entry)
      return
    }
    if whiteouts == .overlay && entry.kind != .directory {
      // A later entry replaces an earlier one of the same name.
      removeExisting(parent, leaf)
    }
    let relative = parts.joined(separator: "/")
    switch entry.kind {
    case .directory:
      var info = stat()
      if fstatat(parent, leaf, &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_mode & S_IFMT != S_IFDIR {
        removeExisting(parent, leaf)
      }
      if mkdirat(parent, leaf, 0o700) != 0 && errno != EEXIST {
        throw refuse(entry.path, "\(SystemError.last("mkdir", relative))")
      }
      try setOwnerAndMode(parent, leaf, entry)
      try setXattrs(parent, leaf, entry)
      recordDirectoryTime(relative, entry)
      return
    case .file:
      if whiteouts == .markers { removeExisting(parent, leaf) }
      try writeFile(parent, leaf, entry, &reader)
    case .symlink:
      if whiteouts == .markers { removeExisting(parent, leaf) }
      guard symlinkat(entry.linkTarget, parent, leaf) == 0 else { throw refuse(entry.path, "\(SystemError.last("symlink", relative))") }
    case .hardLink:
      if whiteouts == .markers { removeExisting(parent, leaf) }
      try link(entry, parent: parent, leaf: leaf)
      return  // a hard link shares its target's inode: attributes are the target's
    case .characterDevice, .blockDevice, .fifo:
      if whiteouts == .markers { removeExisting(parent, leaf) }
      let type: mode_t = entry.kind == .fifo ? S_IFIFO : (entry.kind == .characterDevice ? S_IFCHR : S_IFBLK)
      let device = crisp_makedev(entry.deviceMajor, entry.deviceMinor)
      guard mknodat(parent, leaf, type | 0o600, entry.kind == .fifo ? 0 : device) == 0 else {
        throw refuse(entry.path, "\(SystemError.last("mknod", relative))")
      }
    }
    try setOwnerAndMode(parent, leaf, entry)
    try setXattrs(parent, leaf, entry)
    var times = [
      timespec(tv_sec: Int(entry.modificationTime.seconds), tv_nsec: Int(entry.modificationTime.nanoseconds)),
      timespec(tv_sec: Int(entry.modificationTime.seconds), tv_nsec: Int(entry.modificationTime.nanoseconds)),
    ]
    _ = utimensat(parent, leaf, &times, AT_SYMLINK_NOFOLLOW)
  }

  private func removeExisting(_ parent: Int32, _ leaf: String) {
    var info = stat()
    guard fstatat(parent, leaf, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
    if info.st_mode & S_IFMT == S_IFDIR {
      let path = "/proc/self/fd/\(parent)/\(leaf)"
      try? FilePath.removeTree(path)
    } else {
      unlinkat(parent, leaf, 0)
    }
  }

  private func applyWhiteout(_ leaf: String, parent: Int32, entry: TarEntry) throws(CrispError) {
    switch whiteouts {
    case .markers:
      // Kept verbatim; the native snapshotter applies it when assembling a root filesystem.
      removeExisting(parent, leaf)
      let fd = openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
      guard fd >= 0 else { throw refuse(entry.path, "\(SystemError.last("create", leaf))") }
      Glibc.close(fd)
    case .overlay:
      if leaf == ".wh..wh..opq" {
        let value: [UInt8] = [UInt8(ascii: "y")]
        let status = value.withUnsafeBytes { crisp_fsetxattr(parent, "trusted.overlay.opaque", $0.baseAddress, $0.count) }
        guard status == 0 else { throw refuse(entry.path, "\(SystemError.last("setxattr trusted.overlay.opaque", entry.path))") }
        return
      }
      let name = String(leaf.dropFirst(".wh.".count))
      guard !name.isEmpty, name != ".", name != ".." else { throw refuse(entry.path, "malformed whiteout") }
      removeExisting(parent, name)
      guard mknodat(parent, name, S_IFCHR | 0, crisp_makedev(0, 0)) == 0 else {
        throw refuse(entry.path, "\(SystemError.last("mknod (whiteout)", name))")
      }
    }
  }

  private func writeFile<Source: ByteSource>(_ parent: Int32, _ leaf: String, _ entry: TarEntry, _ reader: inout TarReader<Source>) throws(CrispError)
  {
    let fd = openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw refuse(entry.path, "\(SystemError.last("create", leaf))") }
    defer { Glibc.close(fd) }
    guard let base = copyBuffer.baseAddress else { throw refuse(entry.path, "no copy buffer") }
    while true {
      let n = try reader.readContent(into: copyBuffer)
      if n == 0 { break }
      var offset = 0
      while offset < n {
        let written = retryingOnInterrupt { Glibc.write(fd, base + offset, n - offset) }
        guard written > 0 else { throw refuse(entry.path, "\(SystemError.last("write", leaf))") }
        offset += written
      }
    }
  }

  private func link(_ entry: TarEntry, parent: Int32, leaf: String) throws(CrispError) {
    let target = try components(of: entry.linkTarget, entry: entry.path)
    guard let targetLeaf = target.last.map(String.init) else { throw refuse(entry.path, "hard link to the layer root") }
    let targetParent = try openDirectory(target.dropLast(), entry: entry.path, create: false)
    defer { Glibc.close(targetParent) }
    var info = stat()
    guard fstatat(targetParent, targetLeaf, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
      throw refuse(entry.path, "hard link target \"\(entry.linkTarget)\" is not in this layer")
    }
    guard info.st_mode & S_IFMT != S_IFDIR else { throw refuse(entry.path, "hard link to a directory") }
    guard linkat(targetParent, targetLeaf, parent, leaf, 0) == 0 else {
      throw refuse(entry.path, "\(SystemError.last("link", entry.linkTarget))")
    }
  }

  private func setOwnerAndMode(_ parent: Int32, _ leaf: String, _ entry: TarEntry) throws(CrispError) {
    guard fchownat(parent, leaf, entry.uid, entry.gid, AT_SYMLINK_NOFOLLOW) == 0 else {
      throw refuse(entry.path, "\(SystemError.last("chown", leaf))")
    }
    // After chown (which clears set-id bits); symlinks have no mode of their own.
    if entry.kind != .symlink {
      guard fchmodat(parent, leaf, mode_t(entry.mode & 0o7777), 0) == 0 else {
        throw refuse(entry.path, "\(SystemError.last("chmod", leaf))")
      }
    }
  }

  private func setXattrs(_ parent: Int32, _ leaf: String, _ entry: TarEntry) throws(CrispError) {
    guard !entry.xattrs.isEmpty else { return }
    let path = "/proc/self/fd/\(parent)/\(leaf)"
    for xattr in entry.xattrs {
      // overlayfs interprets its own attributes (redirects, metacopy): never from an image.
      if xattr.name.hasPrefix("trusted.overlay.") || xattr.name.utf8.contains(0) {
        throw refuse(entry.path, "xattr \"\(xattr.name)\" is not allowed in a layer")
      }
      let status = xattr.value.withUnsafeBytes { crisp_lsetxattr(path, xattr.name, $0.baseAddress, $0.count) }
      guard status == 0 else {
        let err = errno
        // Symlinks cannot carry user.* xattrs on Linux; nothing meaningful is lost.
        if entry.kind == .symlink && err == EPERM { continue }
        throw refuse(entry.path, "\(SystemError("setxattr \(xattr.name)", leaf, errno: err))")
      }
    }
  }
}
