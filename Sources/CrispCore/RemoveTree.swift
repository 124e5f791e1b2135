import CLinux
import Glibc

extension FilePath {
  /// Removes `path` and everything under it, like `rm -rf`, without following symlinks and without leaving
  /// the tree (every step is relative to an open directory). A missing path is not an error. A directory
  /// below `path` that is the root of a mount (a bind or idmapped view of other data left mounted) is never
  /// entered: the removal stops there with EBUSY instead of deleting what the mount shows.
  public static func removeTree(_ path: String) throws(SystemError) {
    var info = stat()
    guard lstat(path, &info) == 0 else {
      if errno == ENOENT { return }
      throw .last("lstat", path)
    }
    if info.st_mode & S_IFMT != S_IFDIR {
      guard unlink(path) == 0 || errno == ENOENT else { throw .last("unlink", path) }
      return
    }
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { throw .last("open", path) }
    try removeContents(of: fd, path: path)
    guard rmdir(path) == 0 || errno == ENOENT else { throw .last("rmdir", path) }
  }

  /// Empties the directory open as `fd` (which this closes).
  private static func removeContents(of fd: Int32, path: String) throws(SystemError) {
    guard let dir = fdopendir(fd) else {
      close(fd)
      throw .last("fdopendir", path)
    }
    defer { closedir(dir) }
    while true {
      errno = 0
      guard let entry = readdir(dir) else {
        if errno != 0 { throw .last("readdir", path) }
        return
      }
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name == "." || name == ".." { continue }
      let isDirectory: Bool
      if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
        var info = stat()
        guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw .last("fstatat", path + "/" + name) }
        isDirectory = info.st_mode & S_IFMT == S_IFDIR
      } else {
        isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
      }
      if isDirectory {
        if crisp_is_mount_root(fd, name) == 1 { throw SystemError("remove", path + "/" + name + " (a mount point)", errno: EBUSY) }
        let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else { throw .last("openat", path + "/" + name) }
        try removeContents(of: child, path: path + "/" + name)
        guard unlinkat(fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT else { throw .last("rmdir", path + "/" + name) }
      } else {
        guard unlinkat(fd, name, 0) == 0 || errno == ENOENT else { throw .last("unlink", path + "/" + name) }
      }
    }
  }
}
