import CrispCore
import Foundation
import Images
import PodNetwork
import Store
import Glibc

extension RuntimeManager {
  /// Brings the records in line with what survived a daemon restart: running containers keep running (their
  /// shims outlived the daemon), exits recorded by shims meanwhile are picked up, and anything a killed
  /// daemon left `creating` is rolled back completely.
  public func recover() async {
    let sandboxes: [SandboxRecord], containers: [ContainerRecord]
    do {
      sandboxes = try store.allSandboxes()
      containers = try store.allContainers()
    } catch {
      logger.error("recovery: cannot read the store; nothing is touched", metadata: ["error": "\(error)"])
      return
    }
    for sandbox in sandboxes { await recover(sandbox) }
    for container in containers { await recover(container) }
    // After the half-made containers were rolled back: their views are no longer held by them.
    await removeUnusedImageViews()
    await releaseForgottenNetworks(known: Set(sandboxes.map(\.id)))
    removeUnknownBundles(known: Set(containers.map(\.id) + sandboxes.map(\.id)))
  }

  /// A half-made sandbox is rolled back; a ready one whose pause container lost its shim or exited is NOTREADY.
  private func recover(_ sandbox: SandboxRecord) async {
    do {
      switch sandbox.state {
      case .creating:
        logger.info("rolling back a sandbox left half created", metadata: ["id": "\(sandbox.id)"])
        try await destroySandbox(sandbox)
      case .ready:
        // A pause container without its shim (a reboot emptied the state directory, or the shim was
        // killed) is not a sandbox containers may join: its pid may belong to anything by now.
        if ContainerExit.read(directory: bundle(sandbox.id)) != nil || !host.shims.isRunning(directory: bundle(sandbox.id)) {
          var record = sandbox
          record.state = .notready
          try store.putSandbox(record)
          logger.info("sandbox is not ready after restart", metadata: ["id": "\(sandbox.id)"])
        }
      case .notready:
        break
      }
    } catch {
      logger.error("recovery of a sandbox failed", metadata: ["id": "\(sandbox.id)", "error": "\(error)"])
    }
  }

  /// A half-made container is rolled back; a live one is watched again; one whose shim is gone without an
  /// exit is UNKNOWN (its exit can no longer be known).
  private func recover(_ container: ContainerRecord) async {
    do {
      switch container.state {
      case .creating:
        logger.info("rolling back a container left half created", metadata: ["id": "\(container.id)"])
        try await destroyContainer(container)
      case .created, .running:
        guard let fresh = try refreshed(container.id), fresh.state != .exited else { return }
        if !host.shims.isRunning(directory: bundle(container.id)) {
          var record = fresh
          record.state = .unknown
          record.message = "its shim is gone and no exit was recorded"
          try store.putContainer(record)
          logger.warning("container lost its shim", metadata: ["id": "\(container.id)"])
        } else if fresh.state == .running {
          exitWatch.watch(fresh.id, sandboxID: fresh.sandboxID, bundle: bundle(fresh.id))
        }
      case .exited, .unknown:
        break
      }
    } catch {
      logger.error("recovery of a container failed", metadata: ["id": "\(container.id)", "error": "\(error)"])
    }
  }

  /// Network attachments of sandboxes the store does not know (a daemon killed between forgetting a sandbox
  /// and its DEL finishing): DEL them now, or their IP leases and host rules would never be released.
  private func releaseForgottenNetworks(known sandboxIDs: Set<String>) async {
    let networksDirectory = paths.networkCaches
    for file in (try? FileManager.default.contentsOfDirectory(atPath: networksDirectory)) ?? [] where file.hasSuffix(".json") {
      let id = String(file.dropLast(5))
      guard !sandboxIDs.contains(id) else { continue }
      do {
        let netns = try PodNetworkAttachment.read(networkCacheFile(id))?.netns
        try await host.network.detach(cacheFile: networkCacheFile(id))
        if let netns, !netns.isEmpty { try host.namespaces.removeNetwork(at: netns) }
        logger.info("released the network of a sandbox the store had forgotten", metadata: ["id": "\(id)"])
      } catch {
        logger.error("releasing an orphaned pod network failed", metadata: ["id": "\(id)", "error": "\(error)"])
      }
    }
  }

  /// Directories of containers the store does not know (a crash between creating them and the record).
  private func removeUnknownBundles(known: Set<String>) {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: containersDirectory)) ?? [] where !known.contains(name) {
      host.shims.killCreating(directory: bundle(name), id: name)
      _ = try? host.mounts.unmount(bundle(name) + "/rootfs")
      host.mounts.unmountAll(under: bundle(name) + "/idmap")
      try? FilePath.removeTree(bundle(name))
    }
  }
}
