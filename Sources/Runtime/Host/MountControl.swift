public import CrispCore
public import Images

/// The mounts the lifecycle makes itself (pod /dev/shm, idmapped volume staging). A protocol so that
/// rollback can be tested without root; ``KernelMounts`` is the real one.
public protocol MountControl: Sendable {
  func tmpfs(at target: String, options: String, flags: [Mounts.Flag]) throws(CrispError)
  /// Unmounts `target`; false when nothing was mounted there.
  @discardableResult func unmount(_ target: String) throws(CrispError) -> Bool
  /// Detaches every mount below `directory` (best effort).
  func unmountAll(under directory: String)
  /// An idmapped view of `source` through the user namespace at `userns`, mounted at `target`.
  func idmappedClone(_ source: String, userns: String, at target: String) throws(CrispError)
  /// Detaches staging mounts once the runtime has made the container's own.
  func removeStaging(_ targets: [String], in directory: String)
}

/// The kernel's mounts, through Images' mount helpers.
public struct KernelMounts: MountControl {
  public init() {}

  public func tmpfs(at target: String, options: String, flags: [Mounts.Flag]) throws(CrispError) {
    try Mounts.tmpfs(at: target, options: options, flags: flags)
  }
  @discardableResult public func unmount(_ target: String) throws(CrispError) -> Bool { try Mounts.unmount(target) }
  public func unmountAll(under directory: String) { Mounts.unmountAll(under: directory) }
  public func idmappedClone(_ source: String, userns: String, at target: String) throws(CrispError) {
    try Mounts.idmappedClone(source, userns: userns, at: target)
  }
  public func removeStaging(_ targets: [String], in directory: String) { Mounts.removeStaging(targets, in: directory) }
}
