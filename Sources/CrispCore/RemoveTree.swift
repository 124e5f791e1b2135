import CLinux
import Glibc

extension FilePath {
  /// Removes `path` and everything under it, like `rm -rf`, without following symlinks and without leaving
  /// the tree (every step is relative to an open directory). A missing path is not an error. A directory
  /// below `path` that is the root of a mount (a bind or idmapped view of other data left mounted) is never
  /// entered: the removal stops there with EBUSY instead of deleting what the mount shows.
  ///
  /// The tree may be a container's writable layer, so it may be of any depth and hold names that are not
  /// UTF-8: the walk is a loop over a ``TreeWalk`` (a bounded number of open directories, no recursion) and
  /// names go back to the kernel as the raw bytes readdir gave.
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
    let walk: TreeWalk
    do {
      walk = try TreeWalk(root: path, reopen: .restart)
    } catch  where error.errno == ENOENT {
      return
    }
    try emptyTree(walk)
    guard rmdir(path) == 0 || errno == ENOENT else { throw .last("rmdir", path) }
  }

  /// Empties the walk's top directory, depth first: each directory is read until a pass finds nothing left
  /// (entries are unlinked while reading), then removed from its parent.
  private static func emptyTree(_ walk: TreeWalk) throws(SystemError) {
    // Whether the current pass over the current directory found something; one per level.
    var found: [Bool] = [false]
    while true {
      if let entry = try walk.next() {
        found[found.count - 1] = true
        if try walk.isDirectory(entry) {
          switch try walk.enter(entry.name) {
          case .entered:
            found.append(false)
            continue
          case .mountPoint:
            throw SystemError("remove", walk.path(entry.name) + " (a mount point)", errno: EBUSY)
          case .notDirectory:
            break
          }
        }
        guard unlinkat(walk.descriptor, entry.name, 0) == 0 || errno == ENOENT else {
          // Replaced by a directory since it was read: the next pass enters it.
          if errno == EISDIR { continue }
          throw .last("unlink", walk.path(entry.name))
        }
        continue
      }
      if found[found.count - 1] {
        // Unlinking while reading may make readdir skip entries: read again until a pass finds none.
        found[found.count - 1] = false
        walk.rewind()
        continue
      }
      guard let name = try walk.leave() else { return }
      found.removeLast()
      // A reopened directory is read afresh anyway: that pass alone says whether anything is left.
      if walk.reopenedOnLeave { found[found.count - 1] = false }
      // The parent may have been reopened (read from its start again): what is left shows up there.
      guard unlinkat(walk.descriptor, name, AT_REMOVEDIR) == 0 || errno == ENOENT else {
        throw .last("rmdir", walk.path(name))
      }
    }
  }
}
