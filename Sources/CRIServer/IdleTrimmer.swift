import CrispCore
import Synchronization

/// Gives memory back once a burst of calls is over.
///
/// A burst of pod starts runs a lot of code once (CNI, spec building, image lookups): the pages of the
/// daemon's binary it touched stay mapped, and the allocator keeps the heap it grew. When no call has been
/// started or ended for `quietPeriod` after some activity (long-lived streams, such as kubelet's event
/// stream, do not count as activity while open), the clean code pages are dropped from the mapping (they
/// stay in the page cache and fault back in on use, as at start-up) and the allocator returns free heap to
/// the kernel. An idle node therefore shows what the daemon holds, not what it once touched.
final class IdleTrimmer: Sendable {
  private struct State {
    var lastActivity = ContinuousClock.now
    var dirty = false
  }
  private let state = Mutex(State())
  let quietPeriod: Duration

  init(quietPeriod: Duration = .milliseconds(500)) {
    self.quietPeriod = quietPeriod
  }

  /// A call started or ended.
  func activity() {
    state.withLock {
      $0.lastActivity = ContinuousClock.now
      $0.dirty = true
    }
  }

  /// Whether the daemon has been quiet long enough since its last activity; clears the activity flag.
  func takeQuiet() -> Bool {
    state.withLock {
      guard $0.dirty, ContinuousClock.now - $0.lastActivity >= quietPeriod else { return false }
      $0.dirty = false
      return true
    }
  }

  /// Checks twice per quiet period until cancelled.
  func run() async {
    while !Task.isCancelled {
      try? await Task.sleep(for: quietPeriod / 2)
      if takeQuiet() {
        MemoryFootprint.trimReadOnlyFileMappings()
        MemoryFootprint.releaseFreeHeap()
      }
    }
  }
}
