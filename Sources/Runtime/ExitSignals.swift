import CrispCore
import Glibc
import Synchronization

/// Which running containers may have exited since a list last looked.
///
/// A container's shim renames its exit file into the container's bundle directory when the container ends.
/// One inotify descriptor watches the bundle directory of every running container, so a list reads it once
/// (usually: nothing to read, nothing exited) instead of looking for one exit file per container. kubelet
/// lists every second; on a node with many containers those lookups were most of the list's cost. The exit
/// watcher, which publishes exits, reads the same events through a pending set of its own (``Reader``): what
/// one reader takes stays pending for the other.
final class ExitSignals: Sendable {
  /// Who takes the signals. Each reader has its own pending set and overflow flag.
  enum Reader: Sendable { case lists, exitWatcher }

  private let fd: Int32
  private let state = Mutex(State())

  private struct State {
    var idByWatch: [Int32: String] = [:]
    var watchByID: [String: Int32] = [:]
    var lists = Pending()
    var exitWatcher = Pending()

    subscript(reader: Reader) -> Pending {
      get { reader == .lists ? lists : exitWatcher }
      set {
        if reader == .lists { lists = newValue } else { exitWatcher = newValue }
      }
    }

    mutating func changed(_ id: String) {
      lists.changed.insert(id)
      exitWatcher.changed.insert(id)
    }
  }

  /// What happened since one reader last took the signals.
  private struct Pending {
    var changed: Set<String> = []
    /// The kernel dropped events (its queue was full): every container must be looked at.
    var overflowed = false
  }

  /// What one list must look at.
  struct Check: Sendable {
    fileprivate let all: Bool
    fileprivate let changed: Set<String>
    fileprivate let watched: [String: Int32]

    /// A container not watched (its watch could not be added, or it is not running) is always looked at.
    func mustCheck(_ id: String) -> Bool { all || changed.contains(id) || watched[id] == nil }
  }

  init() {
    // Without inotify (the per-user limit reached, say) every container is looked at, as before.
    fd = inotify_init1(Int32(IN_CLOEXEC) | Int32(IN_NONBLOCK))
  }

  deinit {
    if fd >= 0 { close(fd) }
  }

  /// Starts watching `id`'s bundle directory. The first look after this checks the container anyway: its
  /// exit may have landed before the watch.
  func watch(_ id: String, directory: String) {
    guard fd >= 0 else { return }
    let watch = inotify_add_watch(fd, directory, UInt32(IN_MOVED_TO) | UInt32(IN_CREATE) | UInt32(IN_ONLYDIR))
    guard watch >= 0 else { return }
    state.withLock { state in
      state.idByWatch[watch] = id
      state.watchByID[id] = watch
      state.changed(id)
    }
  }

  func unwatch(_ id: String) {
    state.withLock { state in
      state.lists.changed.remove(id)
      state.exitWatcher.changed.remove(id)
      guard let watch = state.watchByID.removeValue(forKey: id) else { return }
      state.idByWatch[watch] = nil
      inotify_rm_watch(fd, watch)
    }
  }

  /// One look at a time: a look takes the signals, records the exits they point at and reads the store's
  /// change count, and a second look must not see the signals gone before the first has recorded them.
  private let looking = Mutex(())

  /// Runs one look with what happened since the last. If the look fails, the signals are kept for the next.
  func look<T>(_ body: (Check) throws(CrispError) -> T) throws(CrispError) -> T {
    try looking.withLock { _ throws(CrispError) -> T in
      let check = take(.lists)
      do throws(CrispError) {
        return try body(check)
      } catch {
        restore(check)
        throw error
      }
    }
  }

  /// Flags `id` again for `reader`: its exit file is there but could not be read yet.
  func flag(_ id: String, for reader: Reader = .lists) {
    state.withLock { state in
      if state.watchByID[id] != nil { state[reader].changed.insert(id) }
    }
  }

  private func restore(_ check: Check) {
    state.withLock { state in
      state.lists.changed.formUnion(check.changed)
      state.lists.overflowed = state.lists.overflowed || check.all
    }
  }

  /// Reads what happened since `reader` last took the signals, and hands it over (that reader's next take
  /// starts afresh; the other reader's pending set is untouched).
  func take(_ reader: Reader = .lists) -> Check {
    drain()
    return state.withLock { state in
      let pending = state[reader]
      state[reader] = Pending()
      return Check(all: pending.overflowed || fd < 0, changed: pending.changed, watched: state.watchByID)
    }
  }

  /// Reads the pending events into both readers' sets. Read and recorded under the lock: a reader whose
  /// take comes while another drains must find what that drain read already recorded (the descriptor
  /// does not block, so the lock is held for a few system calls at most).
  private func drain() {
    guard fd >= 0 else { return }
    // Aligned for inotify_event; room for many events with short names (exit files are named "exit").
    let capacity = 8192
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: MemoryLayout<inotify_event>.alignment)
    defer { buffer.deallocate() }
    state.withLock { state in
      while true {
        let count = read(fd, buffer, capacity)
        guard count > 0 else { return }
        var offset = 0
        let header = MemoryLayout<inotify_event>.size
        while offset + header <= count {
          let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
          if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
            state.lists.overflowed = true
            state.exitWatcher.overflowed = true
          } else if let id = state.idByWatch[event.wd] {
            if event.mask & UInt32(IN_IGNORED) != 0 {
              // The directory is gone (the container was removed): the kernel dropped the watch.
              state.idByWatch[event.wd] = nil
              state.watchByID[id] = nil
            } else {
              state.changed(id)
            }
          }
          offset += header + Int(event.len)
        }
        if count < capacity / 2 { return }
      }
    }
  }
}
