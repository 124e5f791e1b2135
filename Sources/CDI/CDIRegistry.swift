public import CrispCore
import Foundation
import Glibc
public import Logging
import Synchronization

/// The CDI devices of this node: the spec files of `cdi.spec_dirs`, kept current by an inotify watch on each
/// directory (as the CNI configuration directory is watched), and the one place CreateContainer resolves
/// device names. Thread-safe; resolution is synchronous so it runs in CreateContainer's checks.
///
/// ``setDirectories(_:)`` is the hook for a configuration reload: the new directories are read at once and
/// the watch moves to them.
public final class CDIRegistry: Sendable {
  private struct State {
    var directories: [String]
    var contents: CDIRegistryContents
    var stamps: [DirectoryStamp?]
    /// Bumped by setDirectories, so the watch thread re-adds its watches.
    var generation = 0
  }

  private let state: Mutex<State>
  private let watching = Atomic<Bool>(false)
  private let started = Atomic<Bool>(false)
  private let logger: Logger

  public init(directories: [String], logger: Logger) {
    self.logger = logger
    state = Mutex(
      State(directories: directories, contents: CDIRegistryContents.load(directories: directories), stamps: directories.map(DirectoryStamp.init)))
  }

  public var directories: [String] { state.withLock { $0.directories } }

  /// Switches to other spec directories (a configuration reload) and reads them now.
  public func setDirectories(_ directories: [String]) {
    state.withLock {
      $0.directories = directories
      $0.generation += 1
    }
    watching.store(false, ordering: .releasing)
    reload()
  }

  /// The devices as last read. Without a working watch every call re-reads; with one, a directory whose
  /// entries changed since (one stat each), or changed in the last seconds, is re-read before answering;
  /// edits in place come through the watch.
  public var current: CDIRegistryContents {
    let (directories, stamps, contents) = state.withLock { ($0.directories, $0.stamps, $0.contents) }
    let now = directories.map(DirectoryStamp.init)
    if !watching.load(ordering: .acquiring) || now != stamps || now.contains(where: { $0?.isRecent == true }) { return reload() }
    return contents
  }

  /// Reads the directories now.
  @discardableResult
  public func reload() -> CDIRegistryContents {
    let directories = state.withLock { $0.directories }
    let stamps = directories.map(DirectoryStamp.init)
    let contents = CDIRegistryContents.load(directories: directories)
    let before = state.withLock { (current: inout State) -> CDIRegistryContents? in
      // setDirectories raced this read: its own reload stores the newer directories' contents.
      guard current.directories == directories else { return nil }
      let before = current.contents
      current.contents = contents
      current.stamps = stamps
      return before
    }
    if let before, before != contents {
      logger.info(
        "CDI specs changed",
        metadata: [
          "dirs": "\(directories)", "devices": "\(contents.devices.count)",
          "rejected": "\(contents.rejected.map { "\($0.path): \($0.reason)" })",
        ])
    }
    return contents
  }

  /// The edits for the CDI devices a container asks for (`CDI_devices`, `cdi.k8s.io/*` annotations); nil
  /// when it asks for none. Errors name the device, and the spec file when one is at fault.
  public func resolve(cdiDevices: [String], annotations: [String: String]) throws(CrispError) -> CDIEdits? {
    let names = try CDIResolver.requestedNames(cdiDevices: cdiDevices, annotations: annotations)
    guard !names.isEmpty else { return nil }
    let contents = current
    return try CDIResolver.resolve(names, in: contents, directories: directories)
  }

  /// Starts the watch on a thread of its own (once; it runs for the life of the process). Missing
  /// directories are not created: they are looked for again every second.
  public func start() {
    guard started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
    let fd = inotify_init1(Int32(IN_CLOEXEC) | Int32(IN_NONBLOCK))
    guard fd >= 0 else {
      logger.warning(
        "cannot watch the CDI spec directories; they are re-read on every use", metadata: ["error": "\(SystemError.last("inotify_init1"))"])
      return
    }
    let thread = Thread { [self] in self.watchLoop(fd) }
    thread.name = "crisp-cdi-watch"
    thread.start()
  }

  private func watchLoop(_ fd: Int32) {
    let mask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
    var watches: [Int32: String] = [:]
    var generation = -1
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      let (directories, current) = state.withLock { ($0.directories, $0.generation) }
      if current != generation || watches.count < directories.count {
        for watch in watches.keys { inotify_rm_watch(fd, watch) }
        watches = [:]
        for directory in directories {
          let watch = inotify_add_watch(fd, directory, mask)
          if watch >= 0 { watches[watch] = directory }
        }
        // Only a watch on every directory makes reads between events safe to skip.
        watching.store(watches.count == directories.count, ordering: .releasing)
        generation = current
        reload()
      }
      // A burst (a vendor tool writing several files) is one reload.
      guard let events = InotifyEvents.next(fd, timeout: 1000, buffer: &buffer) else { continue }
      for event in events where event.mask & UInt32(IN_IGNORED) != 0 && watches.removeValue(forKey: event.watch) != nil {
        watching.store(false, ordering: .releasing)
      }
      reload()
    }
  }
}
