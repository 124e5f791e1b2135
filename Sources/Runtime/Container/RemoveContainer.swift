public import CrispCore
import Store

extension RuntimeManager {
  /// Removes a container, stopping it first. Idempotent.
  public func removeContainer(_ rawID: String) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "containers"), try store.container(id: id) != nil else { return }
    try await stopContainer(id, timeout: 0)
    try await locks.with(id) { () async throws(CrispError) -> Void in
      guard let record = try store.container(id: id) else { return }
      try await destroyContainer(record)
    }
    logger.info("container removed", metadata: ["id": "\(id)"])
  }

  func destroyContainer(_ record: ContainerRecord) async throws(CrispError) {
    let id = record.id
    if record.state == .creating { host.shims.killCreating(directory: bundle(id), id: id) }
    if let sandbox = try store.sandbox(id: record.sandboxID), let runtime = runtimes[sandbox.runtimeHandler] {
      try await deleteRuntimeState(id, runtime: runtime)
    } else {
      for runtime in runtimes.values { try? await runtime.delete(id) }
    }
    try host.rootfs.removeRootfs(owner: id, target: bundle(id) + "/rootfs")
    if let volumes = containerExtra(record)?.imageVolumes, !volumes.isEmpty { try await releaseImageViews(of: id, volumes) }
    // Idmapped views exist only for containers of user-namespaced pods.
    if FilePath.exists(bundle(id) + "/idmap") { host.mounts.unmountAll(under: bundle(id) + "/idmap") }
    do {
      try FilePath.removeTree(bundle(id))
    } catch {
      throw CrispError.failed("container \(id): remove its files", error)
    }
    let name = containerExtra(record)?.reservedName ?? ""
    try store.deleteContainer(id, reservedName: name)
    decodedContainers.withLock { $0[id] = nil }
    updatedResources.withLock { $0[id] = nil }
    execProfiles.withLock { $0[id] = nil }
    statsMemory.forget(id)
    publishStopped(id)
    if record.state != .creating { events.publish(ContainerEvent(containerID: id, sandboxID: record.sandboxID, kind: .deleted)) }
  }
}
