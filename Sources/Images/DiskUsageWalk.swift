import CLinux
public import CrispCore
import Glibc
import Synchronization

/// One measurement of a directory's bytes and inodes that can be taken in slices: ``step(budget:)`` visits
/// at most `budget` entries and returns, keeping its place (open directories, hard links seen) for the next
/// call; ``cancel()``, from any thread, ends the slice in progress at the next entry.
///
/// A container's writable layer can hold millions of inodes. Walked in one go, it held the writable-layer
/// walker (so every other container's numbers aged) and daemon shutdown (which waits for the walker) for as
/// long as the walk took; in slices, the walker yields between them and a shutdown stops it within one entry.
///
/// Used by one thread at a time (each slice runs to its end before the next starts); ``cancel()`` may race
/// with a slice.
public final class DiskUsageWalk: @unchecked Sendable {
  /// How a slice ended.
  public enum Progress: Sendable, Equatable {
    /// The budget ran out with entries left: call ``step(budget:)`` again.
    case more
    /// Every entry was seen (or the walk stopped on an error, in ``DiskUsage/Usage/failure``): ``usage`` is final.
    case finished
    /// ``cancel()`` was called: ``usage`` counts only what was reached.
    case cancelled
  }

  public let path: String
  private let openLimit: Int
  private let cancelled = Atomic<Bool>(false)
  private var walk: TreeWalk?
  /// Hard links count once (a directory's link count is its subdirectories).
  private var seen: Set<UInt64> = []
  private var attemptsLeft = DiskUsage.attempts
  private var done = false
  /// What the walk has counted so far; final once a step says ``Progress/finished``.
  public private(set) var usage = DiskUsage.Usage()

  public init(_ path: String, openLimit: Int = TreeWalk.defaultOpenLimit) {
    self.path = path
    self.openLimit = openLimit
  }

  /// Stops the walk: a slice in progress returns ``Progress/cancelled`` after its current entry, and so does
  /// every later one.
  public func cancel() { cancelled.store(true, ordering: .relaxed) }

  public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

  /// Visits up to `budget` entries (at least one).
  public func step(budget: Int) -> Progress {
    if done { return .finished }
    var remaining = max(1, budget)
    while true {
      if isCancelled { return .cancelled }
      guard let walk = walk ?? start() else { return finish() }
      do throws(SystemError) {
        while remaining > 0 {
          if isCancelled { return .cancelled }
          remaining -= 1
          guard try visit(walk) else { return finish() }
        }
        return .more
      } catch {
        usage.failure = "\(error)"
        // A directory the walk had to close was moved meanwhile: again from the top, a few times, so a
        // container renaming directories in a loop does not keep its usage uncounted.
        guard error.errno == ESTALE, attemptsLeft > 0 else { return finish() }
        self.walk = nil
        if remaining == 0 { return .more }
      }
    }
  }

  /// Opens the top directory for a new attempt and counts it; nil when there is nothing (more) to walk.
  private func start() -> TreeWalk? {
    guard attemptsLeft > 0 else { return nil }
    attemptsLeft -= 1
    usage = DiskUsage.Usage()
    seen = []
    let opened: TreeWalk
    do {
      opened = try TreeWalk(root: path, reopen: .resume, openLimit: openLimit)
    } catch {
      // A directory that is not there uses nothing.
      if error.errno != ENOENT { usage.failure = "\(error)" }
      return nil
    }
    var info = stat()
    guard fstat(opened.descriptor, &info) == 0 else {
      usage.failure = "\(SystemError.last("fstat", path))"
      return nil
    }
    usage.add(info)
    walk = opened
    return opened
  }

  /// Counts the walk's next entry (entering directories, leaving finished ones); false once it is over.
  private func visit(_ walk: TreeWalk) throws(SystemError) -> Bool {
    guard let entry = try walk.next() else { return try walk.leave() != nil }
    var info = stat()
    guard fstatat(walk.descriptor, entry.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
      // Removed since it was read: it uses nothing now.
      if errno == ENOENT { return true }
      throw SystemError.last("fstatat", walk.path(entry.name))
    }
    if info.st_mode & S_IFMT != S_IFDIR && info.st_nlink > 1 && !seen.insert(UInt64(info.st_ino)).inserted { return true }
    usage.add(info)
    // A mount point inside is another filesystem's usage; a name no longer a directory was counted.
    if info.st_mode & S_IFMT == S_IFDIR { _ = try walk.enter(entry.name) }
    return true
  }

  private func finish() -> Progress {
    done = true
    walk = nil
    return .finished
  }
}
