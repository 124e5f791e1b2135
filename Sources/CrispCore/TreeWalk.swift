import CLinux
import Glibc

/// A depth-first walk over a directory tree that someone else controls (a container's writable layer), with
/// no recursion and at most ``openLimit`` directories open however deep the tree is.
///
/// A container can nest directories far deeper than any stack or descriptor limit, name files with bytes
/// that are not UTF-8, and rename things while it runs. So: names are raw bytes from `readdir` handed back
/// to the kernel unchanged; each directory is opened relative to its parent's descriptor without following
/// symlinks or crossing into another mount (openat2 `RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS`);
/// and once ``openLimit`` directories are open the shallowest one is closed. Going back up to a closed
/// directory reopens it as `..` of the directory being left, and only if that is the very directory
/// (device and inode) it was: a directory moved elsewhere meanwhile stops the walk with `ESTALE` rather than
/// letting it continue somewhere it did not start.
public final class TreeWalk {
  /// What reading a reopened directory does.
  public enum Reopen: Sendable {
    /// Reads it again from its first entry: for a removal, where what was read before is gone.
    case restart
    /// Carries on after the last entry read before it was closed (its `d_off` cookie, which Linux
    /// filesystems keep valid across opens): for a walk that must see each entry once.
    case resume
  }

  /// One directory entry: its raw name (NUL-terminated, as the system calls take it) and `d_type`.
  public struct Entry {
    public var name: [CChar]
    public var type: UInt8
  }

  /// How entering a subdirectory went.
  public enum Entered: Equatable, Sendable {
    case entered
    /// The name is the root of another mount: never entered.
    case mountPoint
    /// The name is gone or is no longer a directory (a concurrent rename or removal).
    case notDirectory
  }

  private struct Frame {
    var name: [CChar]
    var device: UInt64
    var inode: UInt64
    var stream: OpaquePointer?
    var position: Int = 0
  }

  public static let defaultOpenLimit = 32

  public let openLimit: Int
  public let reopen: Reopen
  /// The path the walk started at (for messages).
  public let root: String
  private var frames: [Frame] = []
  /// Index of the shallowest open frame: frames below it are closed, it and all above are open.
  private var firstOpen = 0
  private static let resolve = UInt64(CRISP_RESOLVE_BENEATH | CRISP_RESOLVE_NO_XDEV | CRISP_RESOLVE_NO_SYMLINKS | CRISP_RESOLVE_NO_MAGICLINKS)
  private static let directoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC

  /// Opens `path` (not following a symlink there) as the walk's top directory.
  public init(root path: String, reopen: Reopen, openLimit: Int = TreeWalk.defaultOpenLimit) throws(SystemError) {
    self.root = path
    self.reopen = reopen
    self.openLimit = max(2, openLimit)
    let fd = retryingOnInterrupt { open(path, Self.directoryFlags) }
    guard fd >= 0 else { throw .last("open", path) }
    var info = stat()
    guard fstat(fd, &info) == 0, let stream = fdopendir(fd) else {
      let error = SystemError.last("fdopendir", path)
      close(fd)
      throw error
    }
    frames.append(Frame(name: [0], device: UInt64(info.st_dev), inode: UInt64(info.st_ino), stream: stream))
  }

  deinit {
    for frame in frames { if let stream = frame.stream { closedir(stream) } }
  }

  /// Whether the last ``leave()`` had to reopen the directory it returned to (with ``Reopen/restart``, that
  /// directory is then read again from its first entry).
  public private(set) var reopenedOnLeave = false

  /// How many directories below the top one the walk is in.
  public var depth: Int { frames.count - 1 }

  /// How many directories are open now (never more than ``openLimit``).
  public var openCount: Int { frames.count - firstOpen }

  /// The current directory's descriptor, for `*at` calls on the entries ``next()`` returns.
  public var descriptor: Int32 {
    guard let stream = frames.last?.stream else { return -1 }
    return dirfd(stream)
  }

  /// The next entry of the current directory other than `.` and `..`; nil once it has none left.
  public func next() throws(SystemError) -> Entry? {
    guard let stream = frames.last?.stream else { return nil }
    while true {
      errno = 0
      guard let entry = readdir(stream) else {
        if errno != 0 { throw .last("readdir", path()) }
        return nil
      }
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [CChar] in
        var bytes = raw.prefix { $0 != 0 }.map { CChar(bitPattern: $0) }
        bytes.append(0)
        return bytes
      }
      if name == [46, 0] || name == [46, 46, 0] { continue }
      return Entry(name: name, type: entry.pointee.d_type)
    }
  }

  /// Reads the current directory again from its first entry.
  public func rewind() {
    if let stream = frames.last?.stream { rewinddir(stream) }
  }

  /// Whether `entry` of the current directory is a directory (asking the filesystem when readdir did not say).
  /// A name that is gone is not.
  public func isDirectory(_ entry: Entry) throws(SystemError) -> Bool {
    if entry.type != UInt8(DT_UNKNOWN) { return entry.type == UInt8(DT_DIR) }
    var info = stat()
    guard fstatat(descriptor, entry.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
      if errno == ENOENT { return false }
      throw .last("fstatat", path(entry.name))
    }
    return info.st_mode & S_IFMT == S_IFDIR
  }

  /// Makes the subdirectory `name` of the current directory the current one, unless it is a mount point
  /// or no longer a directory.
  public func enter(_ name: [CChar]) throws(SystemError) -> Entered {
    // Closed first, so that at most openLimit are ever open (the current one is never the shallowest).
    if openCount >= openLimit { closeShallowest() }
    let parent = descriptor
    var fd: Int32 = -1
    // openat2 answers EAGAIN when a rename raced the lookup.
    for _ in 0..<4 {
      fd = crisp_openat2(parent, name, Self.directoryFlags, 0, Self.resolve)
      if fd >= 0 || (errno != EAGAIN && errno != EINTR) { break }
    }
    if fd < 0 && errno == EXDEV { return .mountPoint }
    if fd < 0 && (errno == ENOSYS || errno == EPERM) {
      // No openat2 (an old kernel or a seccomp filter): a mount root is recognised by the kernel's flag.
      if crisp_is_mount_root(parent, name) == 1 { return .mountPoint }
      fd = retryingOnInterrupt { openat(parent, name, Self.directoryFlags) }
    }
    guard fd >= 0 else {
      if errno == ENOENT || errno == ENOTDIR || errno == ELOOP { return .notDirectory }
      throw .last("open", path(name))
    }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      let error = SystemError.last("fstat", path(name))
      close(fd)
      throw error
    }
    guard let stream = fdopendir(fd) else {
      let error = SystemError.last("fdopendir", path(name))
      close(fd)
      throw error
    }
    frames.append(Frame(name: name, device: UInt64(info.st_dev), inode: UInt64(info.st_ino), stream: stream))
    return .entered
  }

  /// Leaves the current directory for its parent (reopening the parent if it was closed) and returns the
  /// left directory's name in the parent; nil at the top, which stays current.
  @discardableResult
  public func leave() throws(SystemError) -> [CChar]? {
    guard frames.count > 1, let child = frames.last, let childStream = child.stream else { return nil }
    let parentIndex = frames.count - 2
    reopenedOnLeave = parentIndex < firstOpen
    if reopenedOnLeave {
      let fd = retryingOnInterrupt { openat(dirfd(childStream), "..", Self.directoryFlags) }
      guard fd >= 0 else { throw .last("open", path() + "/..") }
      var info = stat()
      guard fstat(fd, &info) == 0, UInt64(info.st_dev) == frames[parentIndex].device, UInt64(info.st_ino) == frames[parentIndex].inode else {
        close(fd)
        throw SystemError("reopen", "\(path()) (its parent was moved during the walk)", errno: ESTALE)
      }
      guard let stream = fdopendir(fd) else {
        let error = SystemError.last("fdopendir", path() + "/..")
        close(fd)
        throw error
      }
      if reopen == .resume { seekdir(stream, frames[parentIndex].position) }
      frames[parentIndex].stream = stream
      firstOpen = parentIndex
    }
    closedir(childStream)
    frames.removeLast()
    return child.name
  }

  private func closeShallowest() {
    guard firstOpen < frames.count, let stream = frames[firstOpen].stream else { return }
    frames[firstOpen].position = telldir(stream)
    closedir(stream)
    frames[firstOpen].stream = nil
    firstOpen += 1
  }

  /// The current directory's path (or `name` in it), for messages: the top path, then the last few names
  /// (a 100 000-deep path is not a message), with bytes that are not UTF-8 shown as U+FFFD.
  public func path(_ name: [CChar]? = nil) -> String {
    var names = frames.dropFirst().map(\.name)
    if let name { names.append(name) }
    let shown = names.suffix(8).map { bytes in String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    let elided = names.count > shown.count ? "/…(\(names.count - shown.count) more)" : ""
    return ([root + elided] + shown).joined(separator: "/")
  }
}
