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
  /// publishes them, polling twice a second, until the calling task is cancelled (the daemon's service
  /// group runs it as a service and cancels it at shutdown).
  public func watchExits() async {
    while !Task.isCancelled {
      try? await Task.sleep(for: .milliseconds(500))
      for (id, _) in exitWatch.snapshot where ContainerExit.read(directory: bundle(id)) != nil {
        _ = try? refreshed(id)
        publishStopped(id)
      }
    }
  }
}
