public import CrispCore
import Store

extension RuntimeManager {
  /// Removes the sandbox with every container in it, its namespace, files and record. Idempotent.
  public func removePodSandbox(_ rawID: String) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "sandboxes"), try store.sandbox(id: id) != nil else { return }
    try await stopPodSandbox(id)
    for container in try store.containers(inSandbox: id) {
      try await removeContainer(container.id)
    }
    try await locks.with(id) { () async throws(CrispError) -> Void in
      guard let record = try store.sandbox(id: id) else { return }
      try await destroySandbox(record)
    }
    logger.info("sandbox removed", metadata: ["id": "\(id)"])
  }

  /// Deletes everything a sandbox owns (used by removal and by recovery of a half-made sandbox). The
  /// record goes last: a failure on the way leaves it for the next attempt.
  func destroySandbox(_ record: SandboxRecord) async throws(CrispError) {
    let id = record.id
    if record.state == .creating { host.shims.killCreating(directory: bundle(id), id: id) }
    if let runtime = runtimes[record.runtimeHandler] { try await deleteRuntimeState(id, runtime: runtime) }
    try host.rootfs.removeRootfs(owner: id, target: bundle(id) + "/rootfs")
    try host.mounts.unmount(extra(of: record)?.shm ?? shmPath(id))
    try await host.network.detach(cacheFile: networkCacheFile(id))
    for directory in [paths.sandboxState(id), bundle(id), sandboxFilesDirectory(id)] {
      do {
        try FilePath.removeTree(directory)
      } catch {
        throw CrispError.failed("sandbox \(id): remove \(directory)", error)
      }
    }
    try host.namespaces.removeNetwork(at: record.netnsPath.isEmpty ? netnsPath(id) : record.netnsPath)
    try host.namespaces.removeUser(at: usernsPath(id))
    let name = "\(record.name)_\(record.namespace)_\(record.uid)_\(record.attempt)"
    try store.deleteSandbox(id, name: name)
    decodedSandboxes.withLock { $0[id] = nil }
    statsMemory.forget("pod:" + id)
    interfaceCounters.forget(sandboxID: id)
    if record.state != .creating { events.publish(ContainerEvent(containerID: id, sandboxID: id, kind: .deleted)) }
  }
}
