import CrispCore
import CLinux
import Glibc

/// Assembles a root filesystem by copying layer directories bottom-up into one directory, turning the OCI
/// whiteout markers the native snapshotter keeps (`.wh.<name>`, `.wh..wh..opq`) into deletions.
///
/// This is the fallback for filesystems where overlayfs does not work; it costs a full copy per container,
/// which is why `auto` prefers overlayfs.
enum NativeMerge {
  static func merge(layers: [String], into target: String) throws(CrispError) {
    for layer in layers {
      let source = open(layer, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
      guard source >= 0 else { throw CrispError.from(SystemError.last("open", layer)) }
      let destination = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
      guard destination >= 0 else {
        close(source)
        throw CrispError.from(SystemError.last("open", target))
      }
      defer { close(destination) }
      try copyDirectory(source, destination, path: layer)
      // The layer root's own attributes belong to the merged root.
      var info = stat()
      if stat(layer, &info) == 0 {
        _ = fchown(destination, info.st_uid, info.st_gid)
        _ = fchmod(destination, info.st_mode & 0o7777)
      }
    }
  }

  /// Copies the entries of `source` (closed by this) into `destination`.
  private static func copyDirectory(_ source: Int32, _ destination: Int32, path: String) throws(CrispError) {
    guard let dir = fdopendir(source) else {
      close(source)
      throw CrispError.from(SystemError.last("fdopendir", path))
    }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      if name != "." && name != ".." { names.append(name) }
    }
    // An opaque marker hides everything lower layers put in this directory: apply it before copying.
    if names.contains(".wh..wh..opq") {
      try emptyDirectory(destination, path: path)
    }
    for name in names where name.hasPrefix(".wh.") && name != ".wh..wh..opq" {
      let target = String(name.dropFirst(4))
      guard !target.isEmpty, target != ".", target != ".." else { continue }
      try removeEntry(destination, target, path: path)
    }
    for name in names where !name.hasPrefix(".wh.") {
      try copyEntry(source, destination, name, path: path + "/" + name)
    }
  }

  private static func copyEntry(_ source: Int32, _ destination: Int32, _ name: String, path: String) throws(CrispError) {
    var info = stat()
    guard fstatat(source, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw CrispError.from(SystemError.last("stat", path)) }
    var existing = stat()
    let exists = fstatat(destination, name, &existing, AT_SYMLINK_NOFOLLOW) == 0
    let type = info.st_mode & S_IFMT
    if exists && !(type == S_IFDIR && existing.st_mode & S_IFMT == S_IFDIR) {
      try removeEntry(destination, name, path: path)
    }
    switch type {
    case S_IFDIR:
      if !(exists && existing.st_mode & S_IFMT == S_IFDIR) {
        guard mkdirat(destination, name, 0o700) == 0 else { throw CrispError.from(SystemError.last("mkdir", path)) }
      }
      let childSource = openat(source, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
      guard childSource >= 0 else { throw CrispError.from(SystemError.last("open", path)) }
      let childDestination = openat(destination, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
      guard childDestination >= 0 else {
        close(childSource)
        throw CrispError.from(SystemError.last("open", path))
      }
      defer { close(childDestination) }
      try copyDirectory(childSource, childDestination, path: path)
    case S_IFREG:
      try copyFile(source, destination, name, size: Int(info.st_size), path: path)
    case S_IFLNK:
      var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
      let length = readlinkat(source, name, &buffer, buffer.count - 1)
      guard length >= 0 else { throw CrispError.from(SystemError.last("readlink", path)) }
      buffer[length] = 0
      guard symlinkat(buffer, destination, name) == 0 else { throw CrispError.from(SystemError.last("symlink", path)) }
    default:
      guard mknodat(destination, name, info.st_mode, info.st_rdev) == 0 else {
        throw CrispError.from(SystemError.last("mknod", path))
      }
    }
    _ = fchownat(destination, name, info.st_uid, info.st_gid, AT_SYMLINK_NOFOLLOW)
    if type != S_IFLNK { _ = fchmodat(destination, name, info.st_mode & 0o7777, 0) }
    copyXattrs(from: "/proc/self/fd/\(source)/\(name)", to: "/proc/self/fd/\(destination)/\(name)")
    var times = [info.st_atim, info.st_mtim]
    _ = utimensat(destination, name, &times, AT_SYMLINK_NOFOLLOW)
  }

  private static func copyFile(_ source: Int32, _ destination: Int32, _ name: String, size: Int, path: String) throws(CrispError) {
    let input = openat(source, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
    guard input >= 0 else { throw CrispError.from(SystemError.last("open", path)) }
    defer { close(input) }
    let output = openat(destination, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard output >= 0 else { throw CrispError.from(SystemError.last("create", path)) }
    defer { close(output) }
    var remaining = size
    while remaining > 0 {
      let copied = crisp_copy_file_range(input, output, remaining)
      if copied > 0 {
        remaining -= copied
        continue
      }
      if copied == 0 { break }
      guard errno == EXDEV || errno == ENOSYS || errno == EINVAL else {
        throw CrispError.from(SystemError.last("copy", path))
      }
      // Fall back to read/write.
      var buffer = [UInt8](repeating: 0, count: 1 << 16)
      while true {
        let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        let written = buffer.withUnsafeBytes { write(output, $0.baseAddress, n) }
        guard written == n else { throw CrispError.from(SystemError.last("write", path)) }
      }
      break
    }
  }

  private static func copyXattrs(from source: String, to destination: String) {
    let size = crisp_llistxattr(source, nil, 0)
    guard size > 0 else { return }
    var names = [CChar](repeating: 0, count: size)
    let length = crisp_llistxattr(source, &names, names.count)
    guard length > 0 else { return }
    var start = 0
    for index in 0..<length where names[index] == 0 {
      let name = names[start..<index].withUnsafeBufferPointer { String(decoding: UnsafeRawBufferPointer($0), as: UTF8.self) }
      start = index + 1
      // overlay's own attributes have no meaning in a plain directory.
      if name.hasPrefix("trusted.overlay.") { continue }
      let valueSize = crisp_lgetxattr(source, name, nil, 0)
      guard valueSize >= 0 else { continue }
      var value = [UInt8](repeating: 0, count: valueSize)
      let got = value.withUnsafeMutableBytes { crisp_lgetxattr(source, name, $0.baseAddress, $0.count) }
      guard got >= 0 else { continue }
      _ = value.withUnsafeBytes { crisp_lsetxattr(destination, name, $0.baseAddress, got) }
    }
  }

  private static func removeEntry(_ directory: Int32, _ name: String, path: String) throws(CrispError) {
    var info = stat()
    guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
    do {
      if info.st_mode & S_IFMT == S_IFDIR {
        try FilePath.removeTree("/proc/self/fd/\(directory)/\(name)")
      } else if unlinkat(directory, name, 0) != 0 {
        throw SystemError.last("unlink", path)
      }
    } catch {
      throw CrispError.failed("native snapshot: remove \(path)", error)
    }
  }

  private static func emptyDirectory(_ directory: Int32, path: String) throws(CrispError) {
    let copy = dup(directory)
    guard copy >= 0, let dir = fdopendir(copy) else { throw CrispError.from(SystemError.last("open", path)) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      if name != "." && name != ".." { names.append(name) }
    }
    closedir(dir)
    for name in names { try removeEntry(directory, name, path: path + "/" + name) }
  }
}
