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
  /// publishes them, twice a second, until the calling task is cancelled (the daemon's service group runs it
  /// as a service and cancels it at shutdown). Only containers whose bundle directory saw an event since the
  /// last round are looked at (``ExitSignals``, the watcher's own pending set): looking for every running
  /// container's exit file was 220 failed opens a second with 110 pods.
  public func watchExits() async {
    while !Task.isCancelled {
      try? await Task.sleep(for: .milliseconds(500))
      for id in exitWatch.toLookAt() {
        guard ContainerExit.read(directory: bundle(id)) != nil else {
          // An exit file that is there but did not read yet (a partial write seen early) is looked at again.
          if exitRecorded(id) { exitWatch.signals.flag(id, for: .exitWatcher) }
          continue
        }
        _ = try? refreshed(id)
        publishStopped(id)
      }
    }
  }
}
