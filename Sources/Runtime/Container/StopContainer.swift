public import CrispCore
import Glibc
import Store

extension RuntimeManager {
  /// Stops a container: its stop signal, up to `timeout` seconds, then SIGKILL. Idempotent, also for an
  /// unknown id.
  public func stopContainer(_ rawID: String, timeout: Int64) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "containers") else { return }
    try await locks.with(id) { () async throws(CrispError) -> Void in
      guard let record = try refreshed(id), record.state == .running || record.state == .created else { return }
      guard let sandbox = try store.sandbox(id: record.sandboxID), let runtime = runtimes[sandbox.runtimeHandler] else { return }
      let directory = bundle(id)
      if timeout > 0 {
        // The signal ContainerStatus reports: the one recorded at creation (kubelet's, else the image's).
        let signal = containerExtra(record)?.stopSignal.flatMap(SignalNames.canonicalName) ?? "SIGTERM"
        // The stop signal goes to the container's init, as `runc kill` without --all sends it.
        if let number = SignalNames.number(signal), await host.shims.signal(directory: directory, number) {
        } else {
          try? await runtime.kill(id, signal: signal)
        }
        if await host.shims.waitForExit(directory: directory, timeout: .seconds(timeout)) != nil {
          _ = try refreshed(id)
          publishStopped(id)
          return
        }
      }
      // SIGKILL to the init of a PID namespace of the container's own takes every process in it with it; in
      // a shared (pod or node) namespace, the runtime signals each process of the container's cgroup.
      let ownPIDNamespace = (try? view(record))?.config.linux.securityContext.namespaceOptions.pid == .container
      if ownPIDNamespace, await host.shims.signal(directory: directory, SIGKILL) {
      } else {
        try? await runtime.kill(id, signal: "KILL", all: true)
      }
      if await host.shims.waitForExit(directory: directory, timeout: .seconds(30)) == nil {
        throw CrispError.internalError("container \(id) did not exit after SIGKILL")
      }
      _ = try refreshed(id)
      publishStopped(id)
    }
  }
}
