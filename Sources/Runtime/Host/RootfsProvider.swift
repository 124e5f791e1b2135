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
  /// Mounts a read-only (nosuid, nodev) view of the image `chainID`'s filesystem at `target` for image
  /// volumes, unless it is mounted there already; it keeps the image's layers while it exists.
  func mountImageView(chainID: String, at target: String) throws(CrispError)
  /// Unmounts the view of `chainID` at `target` and drops what kept it; a missing one is fine.
  func removeImageView(chainID: String, at target: String) throws(CrispError)
  /// The chains that have a view (mounted or not), for recovery to find views nobody holds.
  func imageViewChains() throws(CrispError) -> [String]
}

extension Snapshotter: RootfsProvider {}
