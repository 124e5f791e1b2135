import CrispCore
import Store
import Synchronization

/// The running containers whose exit has not been published yet. An exit is published once, by whichever
/// notices it first: the exit watcher (a container that ended by itself) or StopContainer.
///
/// Registering a container (its inotify watch and its entry) and the watcher's look (its signals and the
/// entries) each happen under one lock, so a look never takes a container's first signal without seeing
/// its entry: a container whose exit file landed before its watch is looked at once, and that look must
/// not be spent while the container is only half registered.
final class ExitWatch: Sendable {
  private let running = Mutex<[String: String]>([:])
  /// Tells lists which of the watched containers to look at.
  let signals = ExitSignals()

  func watch(_ id: String, sandboxID: String, bundle: String) {
    running.withLock { running in
      signals.watch(id, directory: bundle)
      running[id] = sandboxID
    }
  }

  /// The sandbox of `id` if it was still watched (and is no longer).
  func claim(_ id: String) -> String? {
    running.withLock { running in
      signals.unwatch(id)
      return running.removeValue(forKey: id)
    }
  }

  /// The watched containers the exit watcher must look at now: those whose bundle saw an event since its
  /// last look, and those it cannot vouch for (``ExitSignals/Check/mustCheck(_:)``).
  func toLookAt() -> [String] {
    running.withLock { running in
      let check = signals.take(.exitWatcher)
      return running.keys.filter { check.mustCheck($0) }
    }
  }
}
