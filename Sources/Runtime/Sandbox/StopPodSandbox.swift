public import CrispCore
import Glibc
import Store

extension RuntimeManager {
  /// Stops every container of the sandbox and its pause container, and unmounts /dev/shm. Idempotent, also
  /// for an id that never existed.
  public func stopPodSandbox(_ rawID: String) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "sandboxes"), try store.sandbox(id: id) != nil else { return }
    // Containers first: the pod keeps its network (and its IP) until every one of them is gone, also one
    // still in a graceful StopContainer.
    for container in try store.containers(inSandbox: id) {
      try await stopContainer(container.id, timeout: 0)
    }
    try await locks.with(id) { () async throws(CrispError) -> Void in
      guard let current = try store.sandbox(id: id) else { return }
      // CNI DEL (it releases the pod's IP) runs while the pause container stops: the pinned namespace outlives
      // the process. A failure leaves the attachment saved and the sandbox NOTREADY, and the next stop (or
      // removal) runs DEL again.
      let network = host.network
      let cacheFile = networkCacheFile(id)
      let teardown = Task { () -> CrispError? in
        do throws(CrispError) {
          try await network.detach(cacheFile: cacheFile)
          return nil
        } catch {
          return error
        }
      }
      do throws(CrispError) {
        try await stopPause(current)
      } catch {
        _ = await teardown.value
        throw error
      }
      if let failure = await teardown.value { throw failure }
    }
  }

  /// Kills the pause container, unmounts the pod's /dev/shm and marks the sandbox NOTREADY.
  private func stopPause(_ record: SandboxRecord) async throws(CrispError) {
    let id = record.id
    let directory = bundle(id)
    let shims = host.shims
    if let runtime = runtimes[record.runtimeHandler], ContainerExit.read(directory: directory) == nil, shims.isRunning(directory: directory) {
      if await !shims.signal(directory: directory, SIGKILL) {
        // Already gone is fine; anything else is reported below if it keeps running.
        try? await runtime.kill(id, signal: "KILL")
      }
      if await shims.waitForExit(directory: directory, timeout: .seconds(10)) == nil {
        throw CrispError.internalError("sandbox \(id): the pause container did not exit after SIGKILL")
      }
    }
    if let shm = extra(of: record)?.shm { try host.mounts.unmount(shm) }
    // Its network is torn down: the pod's interface mapping is learnt again if it is ever read.
    interfaceCounters.forget(sandboxID: id)
    if record.state != .notready {
      var record = record
      record.state = .notready
      try store.putSandbox(record)
      events.publish(ContainerEvent(containerID: id, sandboxID: id, kind: .stopped))
    }
  }
}
