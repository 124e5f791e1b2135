import CrispCore
import ServiceLifecycle
import Synchronization

/// Gives memory back once a burst of calls is over.
///
/// A burst of lifecycle calls (pod and container starts and stops, pulls, execs) runs a lot of code once:
/// the pages of the daemon's binary it touched stay mapped, and the allocator keeps the heap it grew. Once
/// such a burst is followed by `quietPeriod` without any call starting or ending, the binary's clean code
/// pages are dropped from its mapping (they stay in the page cache and fault back in on use, as after
/// start-up) and the allocator returns free heap to the kernel. Polling calls (lists, statuses, stats) keep
/// the daemon from being quiet but never cause a trim, so kubelet's steady relisting costs nothing here.
final class IdleTrimmer: Service {
  private struct State {
    var lastActivity = ContinuousClock.now
    var dirty = false
  }
  private let state = Mutex(State())
  let quietPeriod: Duration
  /// Caches of the daemon's own to drop at the same time (the store's page caches).
  let releaseCaches: @Sendable () -> Void

  init(quietPeriod: Duration = .milliseconds(500), releaseCaches: @escaping @Sendable () -> Void = {}) {
    self.quietPeriod = quietPeriod
    self.releaseCaches = releaseCaches
  }

  /// The calls after which trimming is worth it: those that start, stop or move things.
  static let lifecycleMethods: Set<String> = [
    "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "CreateContainer", "StartContainer", "StopContainer",
    "RemoveContainer", "ExecSync", "Exec", "Attach", "PortForward", "UpdateContainerResources", "PullImage", "RemoveImage",
    "ImportImages", "ExportImages",
  ]

  /// A call (`method`: its own name, `ListContainers`) started or ended.
  func activity(_ method: String) {
    let lifecycle = Self.lifecycleMethods.contains(method)
    state.withLock {
      $0.lastActivity = ContinuousClock.now
      if lifecycle { $0.dirty = true }
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

  /// Checks twice per quiet period until the daemon shuts down (a lifecycle service, among the
  /// background work that stops after the servers).
  func run() async {
    await cancelWhenGracefulShutdown { await self.trimWhenQuiet() }
  }

  /// Checks twice per quiet period until cancelled.
  private func trimWhenQuiet() async {
    while !Task.isCancelled {
      try? await Task.sleep(for: quietPeriod / 2)
      if takeQuiet() {
        releaseCaches()
        MemoryFootprint.trimReadOnlyFileMappings(executableOnly: true)
        MemoryFootprint.releaseFreeHeap()
      }
    }
  }
}
