public import CrispCore
import Foundation
import Store

extension RuntimeManager {
  /// UpdateContainerResources: new cgroup limits applied with `runc update` before the call returns. If the
  /// runtime refuses (a memory limit below what the container uses, say), the call fails and the old limits
  /// stay in force and in the status.
  public func updateContainerResources(_ rawID: String, linux: ContainerResources) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "containers"), try store.container(id: id) != nil else {
      throw CrispError.notFound("container \"\(rawID)\" not found")
    }
    for (field, value) in [
      ("memory_limit_in_bytes", linux.memoryLimitInBytes), ("cpu_quota", linux.cpuQuota), ("cpu_period", linux.cpuPeriod),
      ("cpu_shares", linux.cpuShares), ("memory_swap_limit_in_bytes", linux.memorySwapLimitInBytes),
    ] where value < -1 || (value == -1 && field != "cpu_quota" && field != "memory_swap_limit_in_bytes") {
      throw CrispError.invalidArgument("linux.\(field) \(value) is negative")
    }
    try await locks.with(id) { () async throws(CrispError) -> Void in
      guard var record = try refreshed(id) else { throw CrispError.notFound("container \"\(rawID)\" not found") }
      guard record.state == .created || record.state == .running else {
        throw CrispError.failedPrecondition("container \(id) is \(record.state.rawValue); only created and running containers can be updated")
      }
      guard let sandbox = try store.sandbox(id: record.sandboxID), let runtime = runtimes[sandbox.runtimeHandler] else {
        throw CrispError.failedPrecondition("container \(id): its sandbox is gone")
      }
      var resources = SpecBuilder.resources(linux)
      resources.devices = nil  // device rules are not resources runc update changes
      let file = bundle(id) + "/resources-update.json"
      do {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(resources)), to: file, mode: 0o600)
      } catch {
        throw CrispError.internalError("write \(file): \(error)")
      }
      defer { try? FilePath.remove(file) }
      try await runtime.update(id, resourcesFile: file)
      guard var extra = containerExtra(record) else { return }
      extra.updatedResources = try codec.encode(linux)
      record.extra = try extra.encoded(for: "container \(id)")
      try store.putContainer(record)
      logger.info("container resources updated", metadata: ["id": "\(id)"])
    }
  }

  /// The limits in force: the last successful update's, else those the container was created with.
  public func currentResources(_ view: ContainerView) -> ContainerResources {
    let record = view.record
    // ContainerStatus asks for every call; the record's details are decoded again only when they changed.
    if let known = updatedResources.withLock({ $0[record.id] }), known.extra == record.extra {
      return known.resources ?? view.config.linux.resources
    }
    let updated = containerExtra(record)?.updatedResources.flatMap { try? codec.decodeResources($0) }
    updatedResources.withLock { $0[record.id] = (record.extra, updated) }
    return updated ?? view.config.linux.resources
  }

  /// UpdatePodSandboxResources: kubelet reports the pod's new overhead and total; the pod cgroup itself is
  /// kubelet's to size, so crisp checks the sandbox exists and records the values for its status info.
  public func updatePodSandboxResources(_ rawID: String, overhead: ContainerResources?, resources: ContainerResources?) throws(CrispError) {
    guard let id = try resolveID(rawID, table: "sandboxes"), try store.sandbox(id: id) != nil else {
      throw CrispError.notFound("pod sandbox \"\(rawID)\" not found")
    }
    do {
      let bytes = try codec.encodePodResources(sandboxID: id, overhead: overhead, resources: resources)
      try AtomicFile.write(bytes, to: FilePath.join(sandboxFilesDirectory(id), "resources.pb"), mode: 0o600)
    } catch {
      throw CrispError.internalError("record the resources of sandbox \(id): \(error)")
    }
  }
}
