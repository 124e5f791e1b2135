public import CrispCore
import CLinux
import Glibc

/// A pod's network namespace, pinned by a bind mount so it outlives any process in it (and the daemon).
public enum NetworkNamespace {
  /// Creates a namespace with loopback up, pinned at `path`.
  public static func create(at path: String) async throws(CrispError) {
    do {
      try FilePath.makeDirectories(FilePath.directory(of: path), mode: 0o711)
    } catch {
      throw CrispError.internalError("netns \(path): \(error)")
    }
    let status = await onDedicatedThread { crisp_netns_create(path) }
    guard status == 0 else {
      throw CrispError.internalError("create network namespace \(path): \(SystemError("netns", path, errno: status).strerror)")
    }
  }

  /// Whether `path` is a pinned namespace (a nsfs mount), not a plain file left behind when the pin went
  /// away (a reboot with the state directory on disk). CNI plugins must be given only the former.
  public static func isPinned(_ path: String) -> Bool {
    crisp_is_nsfs(path) == 1
  }

  /// Unpins and deletes the namespace file. A missing one is fine (removal is idempotent).
  public static func remove(at path: String) throws(CrispError) {
    guard FilePath.exists(path) else { return }
    if crisp_umount2(path, crisp_mnt_detach()) != 0 && errno != EINVAL && errno != ENOENT {
      throw CrispError.from(SystemError.last("unmount netns", path))
    }
    do {
      try FilePath.remove(path)
    } catch {
      throw CrispError.failed("remove the pinned namespace \(path)", error)
    }
  }
}
