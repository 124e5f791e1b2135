import CrispCore
import Foundation
import Glibc
public import Logging
import Synchronization

/// Keeps the CNI configuration of `conf_dir` current: the directory is watched with inotify and reloaded on
/// any change, so a network add-on that drops its conflist in after crisp started flips `NetworkReady` and
/// lets pods start, without a restart.
public final class CNIConfigWatcher: Sendable {
  public let directory: String
  public let maxConfNum: Int
  private let state: Mutex<(load: CNIConfigLoad, stamp: DirectoryStamp?)>
  private let watching = Atomic<Bool>(false)
  private let logger: Logger

  public init(directory: String, maxConfNum: Int, logger: Logger) {
    self.directory = directory
    self.maxConfNum = maxConfNum
    self.logger = logger
    let stamp = DirectoryStamp(directory)
    state = Mutex((CNIConfigLoader.load(directory: directory, maxConfNum: maxConfNum), stamp))
  }

  /// The configuration as last loaded. A file added, renamed or removed since then changes the directory's
  /// mtime, and that is checked here (one stat) so a caller never sees a configuration older than the
  /// directory, even in the moment before the watch thread wakes; edits in place come through the watch.
  public var current: CNIConfigLoad {
    if !watching.load(ordering: .acquiring) { return reload() }
    let (load, stamp) = state.withLock { ($0.load, $0.stamp) }
    // A stamp from the last two seconds proves nothing (the kernel's directory clock is coarse: a file
    // added in the same tick as the last read leaves it unchanged), so the directory is read again.
    let now = DirectoryStamp(directory)
    if now != stamp || now?.isRecent == true { return reload() }
    return load
  }

  /// Reads the directory now.
  @discardableResult
  public func reload() -> CNIConfigLoad {
    let stamp = DirectoryStamp(directory)
    let load = CNIConfigLoader.load(directory: directory, maxConfNum: maxConfNum)
    let before = state.withLock { current in
      let before = current.load
      current = (load, stamp)
      return before
    }
    if before != load {
      logger.info(
        "CNI configuration changed",
        metadata: [
          "dir": "\(directory)", "ready": "\(load.isReady)", "networks": "\(load.networks.map(\.name))",
          "skipped": "\(load.skipped.map { "\(FilePath.lastComponent(of: $0.file)): \($0.reason)" })",
        ])
    }
    return load
  }

  /// Starts the watch on a thread of its own; it runs for the life of the process. The directory is created
  /// (0755) when missing, as containerd does, so there is something to watch.
  public func start() {
    let fd = inotify_init1(Int32(IN_CLOEXEC) | Int32(IN_NONBLOCK))
    guard fd >= 0 else {
      logger.warning(
        "cannot watch the CNI directory; it is re-read on every use", metadata: ["error": "\(SystemError.last("inotify_init1", directory))"])
      return
    }
    let thread = Thread { [self] in self.watchLoop(fd) }
    thread.name = "crisp-cni-watch"
    thread.start()
  }

  private func watchLoop(_ fd: Int32) {
    let mask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF)
    var watch: Int32 = -1
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      if watch < 0 {
        try? FilePath.makeDirectories(directory, mode: 0o755)
        watch = inotify_add_watch(fd, directory, mask)
        if watch < 0 {
          watching.store(false, ordering: .releasing)
          sleep(1)
          continue
        }
        watching.store(true, ordering: .releasing)
        reload()
      }
      // A burst (an add-on writing several files) is one reload.
      guard let events = InotifyEvents.next(fd, timeout: -1, buffer: &buffer) else { continue }
      let lostWatch = events.contains { $0.mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) != 0 }
      if lostWatch {
        inotify_rm_watch(fd, watch)
        watch = -1
        watching.store(false, ordering: .releasing)
      }
      reload()
    }
  }
}
