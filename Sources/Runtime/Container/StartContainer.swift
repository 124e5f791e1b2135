public import CrispCore
import Store

extension RuntimeManager {
  public func startContainer(_ rawID: String) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "containers"), try store.container(id: id) != nil else {
      throw CrispError.notFound("container \"\(rawID)\" not found")
    }
    try await locks.with(id) { () async throws(CrispError) -> Void in
      guard var record = try refreshed(id) else { throw CrispError.notFound("container \"\(rawID)\" not found") }
      guard record.state == .created else {
        throw CrispError.failedPrecondition("container \(id) is \(record.state.rawValue), not created")
      }
      guard let sandbox = try store.sandbox(id: record.sandboxID), let runtime = runtimes[sandbox.runtimeHandler] else {
        throw CrispError.failedPrecondition("container \(id): its sandbox is gone")
      }
      do throws(CrispError) {
        try await runtime.start(id, pid: record.pid)
      } catch {
        // It may have started after all (a timeout) or be waiting half made: make sure it is gone, and its
        // shim has recorded the end, before calling it exited.
        try? await runtime.kill(id, signal: "KILL", all: true)
        try? await runtime.delete(id)
        _ = await host.shims.waitForExit(directory: bundle(id), timeout: .seconds(10))
        record.state = .exited
        record.exitCode = 128
        record.reason = "StartError"
        record.message = error.message
        record.finishedAt = host.clock.now()
        try store.putContainer(record)
        throw error
      }
      record.state = .running
      record.startedAt = host.clock.now()
      try store.putContainer(record)
      exitWatch.watch(id, sandboxID: record.sandboxID, bundle: bundle(id))
      events.publish(ContainerEvent(containerID: id, sandboxID: record.sandboxID, kind: .started))
    }
  }
}
