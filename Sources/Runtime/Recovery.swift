import CrispCore
import Foundation
import Images
import Store

extension RuntimeManager {
  /// Brings the records in line with what survived a daemon restart: running containers keep running (their
  /// shims outlived the daemon), exits recorded by shims meanwhile are picked up, and anything a killed
  /// daemon left `creating` is rolled back completely.
  public func recover() async {
    do {
      for sandbox in try store.allSandboxes() {
        switch sandbox.state {
        case .creating:
          logger.info("rolling back a sandbox left half created", metadata: ["id": "\(sandbox.id)"])
          try await destroySandbox(sandbox)
        case .ready:
          if ContainerExit.read(directory: bundle(sandbox.id)) != nil {
            var record = sandbox
            record.state = .notready
            try store.putSandbox(record)
          }
        case .notready:
          break
        }
      }
      for container in try store.allContainers() {
        switch container.state {
        case .creating:
          logger.info("rolling back a container left half created", metadata: ["id": "\(container.id)"])
          try await destroyContainer(container)
        case .created, .running:
          guard let fresh = try refreshed(container.id), fresh.state != .exited else { continue }
          if !ShimLauncher.isRunning(directory: bundle(container.id)) {
            var record = fresh
            record.state = .unknown
            record.message = "its shim is gone and no exit was recorded"
            try store.putContainer(record)
            logger.warning("container lost its shim", metadata: ["id": "\(container.id)"])
          }
        case .exited, .unknown:
          break
        }
      }
    } catch {
      logger.error("recovery failed", metadata: ["error": "\(error)"])
    }
    // Directories of containers the store does not know (a crash between creating them and the record).
    let known = Set(((try? store.allContainers()) ?? []).map(\.id) + ((try? store.allSandboxes()) ?? []).map(\.id))
    for name in (try? FileManager.default.contentsOfDirectory(atPath: containersDirectory)) ?? [] where !known.contains(name) {
      _ = try? Mounts.unmount(bundle(name) + "/rootfs")
      try? FilePath.removeTree(bundle(name))
    }
  }
}

