import Glibc

/// A watched directory's identity and modification time (nil: missing), to notice entries added, renamed
/// or removed, and a directory appearing or going, without waiting for the watch thread (the CNI and CDI
/// directories).
public struct DirectoryStamp: Equatable, Sendable {
  public var inode: UInt64
  public var seconds: Int
  public var nanoseconds: Int

  public init?(_ path: String) {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    inode = UInt64(info.st_ino)
    seconds = Int(info.st_mtim.tv_sec)
    nanoseconds = Int(info.st_mtim.tv_nsec)
  }

  /// Changed in the last two seconds. The kernel stamps directories from a coarse clock, so a file added in
  /// the same tick as the last read leaves the stamp as it was: a recent stamp proves nothing.
  public var isRecent: Bool {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int(now.tv_sec) - seconds < 2
  }
}
