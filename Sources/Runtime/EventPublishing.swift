import CrispCore
import Foundation

extension RuntimeManager {
  /// Publishes the STOPPED event of a container if nobody has yet.
  func publishStopped(_ id: String) {
    if let sandboxID = exitWatch.claim(id) {
      events.publish(ContainerEvent(containerID: id, sandboxID: sandboxID, kind: .stopped))
    }
  }

  /// Watches running containers for exits they make by themselves (the shim's exit file appears) and
  /// publishes them; runs for the life of the daemon, polling twice a second.
  public func startExitWatcher() {
    Task.detached { [weak self] in
      while !Task.isCancelled {
        try? await Task.sleep(for: .milliseconds(500))
        guard let self else { return }
        for (id, _) in self.exitWatch.snapshot where ContainerExit.read(directory: self.bundle(id)) != nil {
          _ = try? self.refreshed(id)
          self.publishStopped(id)
        }
      }
    }
  }
}
