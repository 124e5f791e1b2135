public import CrispCore
import CLinux
import Glibc

/// A pod's user namespace, pinned by a bind mount like its network namespace.
///
/// A user-namespaced pod's network namespace must belong to the user namespace (the OCI runtime joins the
/// user namespace first, and from inside it may only join, and mount sysfs for, network namespaces owned by
/// it), so both are made together by one short-lived child.
public enum UserNamespace {
  /// One id range: container ids `0..<size` are host ids `host..<host+size`.
  public struct Mapping: Sendable, Equatable, Codable {
    public var hostID: UInt32
    public var size: UInt32

    public init(hostID: UInt32, size: UInt32) {
      self.hostID = hostID
      self.size = size
    }

    /// The /proc/<pid>/uid_map line.
    var mapLine: String { "0 \(hostID) \(size)" }
  }

  /// Creates the user namespace pinned at `path`, and with `netnsPath` a network namespace it owns (loopback
  /// up). On failure nothing is left behind.
  public static func create(at path: String, uids: Mapping, gids: Mapping, netnsPath: String?) async throws(CrispError) {
    do {
      try FilePath.makeDirectories(FilePath.directory(of: path), mode: 0o711)
      if let netnsPath { try FilePath.makeDirectories(FilePath.directory(of: netnsPath), mode: 0o711) }
    } catch {
      throw CrispError.internalError("user namespace \(path): \(error)")
    }
    let status = await onDedicatedThread { crisp_userns_create(path, netnsPath, uids.mapLine, gids.mapLine) }
    guard status == 0 else {
      throw CrispError.internalError(
        "create user namespace \(path) (uids \(uids.mapLine), gids \(gids.mapLine)): \(SystemError("userns", path, errno: status).strerror)")
    }
  }

  /// Unpins and deletes the namespace file; a missing one is fine.
  public static func remove(at path: String) throws(CrispError) {
    try NetworkNamespace.remove(at: path)
  }
}
