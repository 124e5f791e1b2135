import CrispCore
import Store
import Synchronization

/// The running containers whose exit has not been published yet. An exit is published once, by whichever
/// notices it first: the exit watcher (a container that ended by itself) or StopContainer.
final class ExitWatch: Sendable {
  private let running = Mutex<[String: String]>([:])
  /// Tells lists which of the watched containers to look at.
  let signals = ExitSignals()

  func watch(_ id: String, sandboxID: String, bundle: String) {
    // Signals first: a claim landing in between then finds both to undo.
    signals.watch(id, directory: bundle)
    running.withLock { $0[id] = sandboxID }
  }

  /// The sandbox of `id` if it was still watched (and is no longer).
  func claim(_ id: String) -> String? {
    signals.unwatch(id)
    return running.withLock { $0.removeValue(forKey: id) }
  }

  var snapshot: [String: String] { running.withLock { $0 } }
}
