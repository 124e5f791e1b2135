import Glibc

/// A spec directory's identity and modification time (nil: missing), to notice files added, renamed or
/// removed, and a directory appearing or going, without waiting for the watch thread.
struct CDIDirectoryStamp: Equatable, Sendable {
  var inode: UInt64
  var seconds: Int
  var nanoseconds: Int

  init?(_ path: String) {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    inode = UInt64(info.st_ino)
    seconds = Int(info.st_mtim.tv_sec)
    nanoseconds = Int(info.st_mtim.tv_nsec)
  }

  /// Changed in the last two seconds. The kernel stamps directories from a coarse clock, so a file added in
  /// the same tick as the last read leaves the stamp as it was: a recent stamp proves nothing.
  var isRecent: Bool {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int(now.tv_sec) - seconds < 2
  }
}
