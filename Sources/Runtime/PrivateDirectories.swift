import CrispCore
import Foundation
import Glibc
import Store

extension RuntimeManager {
  /// Start-up repair of an install made by an older crisp, whose per-pod and per-container directories were
  /// 0711 or 0755 (any user of the node could run a setuid binary a container's root wrote, or read and
  /// write a pod's /dev/shm): each gets the owner and mode new ones are made with (see
  /// ``FilePath/makePrivateDirectory(_:group:)``), with the group of the pod's root for user-namespaced pods.
  public func restrictPodDirectories() {
    let sandboxes: [SandboxRecord], containers: [ContainerRecord]
    do {
      sandboxes = try store.allSandboxes()
      containers = try store.allContainers()
    } catch {
      logger.error("cannot read the store to check directory modes", metadata: ["error": "\(error)"])
      return
    }
    var groups: [String: UInt32] = [:]
    for sandbox in sandboxes {
      if let group = extra(of: sandbox)?.userNamespace?.gids.hostID { groups[sandbox.id] = group }
    }
    var directories: [(String, UInt32?)] = []
    for sandbox in sandboxes {
      let group = groups[sandbox.id]
      directories += [(bundle(sandbox.id), group), (paths.sandboxState(sandbox.id), group), (sandboxFilesDirectory(sandbox.id), group)]
    }
    for container in containers { directories.append((bundle(container.id), groups[container.sandboxID])) }
    // Whatever else is there (a directory the store does not know) is root's alone.
    let known = Set(directories.map(\.0))
    for parent in [containersDirectory, paths.sandboxStateParent, paths.sandboxFilesParent] {
      // Shared parents: traversable, no longer listable.
      if chmod(parent, FilePath.sharedParentMode) != 0 && errno != ENOENT {
        logger.error("cannot restrict a directory", metadata: ["path": "\(parent)", "error": "\(SystemError.last("chmod", parent))"])
      }
      for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
        let path = FilePath.join(parent, name)
        if !known.contains(path) && FilePath.isDirectory(path) { directories.append((path, nil)) }
      }
    }
    for (path, group) in directories {
      do {
        try FilePath.restrict(path, group: group)
      } catch {
        logger.error("cannot restrict a pod directory to root", metadata: ["path": "\(path)", "error": "\(error)"])
      }
    }
  }
}
