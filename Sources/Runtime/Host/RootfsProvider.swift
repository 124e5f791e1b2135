public import CrispCore
public import Images

/// Root filesystems of containers from image snapshots. A protocol so that rollback can be tested without
/// mounting; the ``Snapshotter`` is the real one.
public protocol RootfsProvider: Sendable {
  /// Mounts (or copies) the image `chainID`'s filesystem at `target` for `owner`, shifted for a user
  /// namespace when asked.
  func prepareRootfs(owner: String, chainID: String, target: String, shift: Snapshotter.IDShift?) throws(CrispError)
  /// Unmounts and forgets `owner`'s root filesystem; a missing one is fine.
  func removeRootfs(owner: String, target: String?) throws(CrispError)
}

extension Snapshotter: RootfsProvider {}
