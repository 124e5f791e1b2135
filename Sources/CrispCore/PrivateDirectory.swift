public import Glibc

extension FilePath {
  /// Mode of the directories shared by every pod on the way to a private one (the state and root
  /// directories, `containers/`, `sandboxes/`): traversable, not listable.
  public static let sharedParentMode: mode_t = 0o711

  /// Creates (or repairs) a directory that holds a container's root filesystem, a pod's /dev/shm or its
  /// files, so that no unprivileged user of the node can reach what is inside: a container's root can
  /// write setuid binaries and device-less data there, and the mounts under it are not nosuid for the host
  /// (runc's bind of the root filesystem keeps its source's flags, so it cannot be).
  ///
  /// Owned by the daemon's user (root), mode 0700; with `group` (the host group of a user-namespaced pod's root, which must
  /// still traverse to its own root filesystem, shm and files) 0710 with that group. Missing parents are
  /// created with ``sharedParentMode``. An existing directory gets the owner, group and mode (an install
  /// made by an older crisp); a symlink in its place is refused.
  public static func makePrivateDirectory(_ path: String, group: UInt32? = nil) throws(SystemError) {
    let parent = directory(of: path)
    if parent != path { try makeDirectories(parent, mode: sharedParentMode) }
    if mkdir(path, 0o700) != 0 {
      guard errno == EEXIST else { throw .last("mkdir", path) }
    }
    try restrict(path, group: group)
  }

  /// Gives an existing directory ``makePrivateDirectory(_:group:)``'s owner, group and mode; a missing one is
  /// left missing.
  public static func restrict(_ path: String, group: UInt32? = nil) throws(SystemError) {
    // O_NOFOLLOW | O_DIRECTORY: the change lands on this very directory, never on a symlink's target.
    let fd = retryingOnInterrupt { open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    guard fd >= 0 else {
      if errno == ENOENT { return }
      throw .last("open", path)
    }
    defer { close(fd) }
    // Narrowed first, widened to the group only once the group is right.
    guard fchmod(fd, 0o700) == 0 else { throw .last("chmod", path) }
    // Root's 0:0 for the daemon (whatever its own group); an unprivileged process (unit tests) keeps its own
    // ids, which is all it can set.
    let owner = geteuid()
    guard fchown(fd, owner, group ?? (owner == 0 ? 0 : getegid())) == 0 else { throw .last("chown", path) }
    if group != nil {
      guard fchmod(fd, 0o710) == 0 else { throw .last("chmod", path) }
    }
  }
}
