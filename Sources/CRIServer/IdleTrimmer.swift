import CrispCore
import ServiceLifecycle
import Synchronization

/// Gives memory back once a burst of calls is over.
///
/// A burst of lifecycle calls (pod and container starts and stops, pulls, execs) runs a lot of code once:
/// the pages of the daemon's binary it touched stay mapped, and the allocator keeps the heap it grew. Once
/// such a burst is followed by `quietPeriod` without a lifecycle call starting or ending, the binary's clean
/// code pages are dropped from its mapping (they stay in the page cache and fault back in on use, as after
/// start-up) and the allocator returns free heap to the kernel. Polling calls (lists, statuses, stats) do
/// not hold the trim back: on a full node kubelet's polling never leaves half a second without a call, and
/// the code of the burst stayed resident for good. They touch their own pages again, and those (plus what a
/// rare call touched) are dropped every `pollingPeriod` while polling goes on: refaulting kubelet's
/// working set from the page cache every half minute costs a few milliseconds.
final class IdleTrimmer: Service {
  private struct State {
    var lastLifecycle = ContinuousClock.now
    var lastTrim = ContinuousClock.now
    /// A lifecycle call since the last trim.
    var dirty = false
    /// Any call since the last trim.
    var touched = false
    /// A lifecycle call since the binary's pages were last handed to reclaim.
    var reclaimDue = false
  }
  private let state = Mutex(State())
  let quietPeriod: Duration
  let pollingPeriod: Duration
  /// How long without a lifecycle call before the binary's pages go to reclaim: a burst of pod starts
  /// often leaves half a second without a call starting or ending (every worker inside a long call), and
  /// reclaiming then made the rest of the burst read its code back from disk.
  let reclaimQuietPeriod: Duration
  /// Caches of the daemon's own to drop at the same time (the store's page caches).
  let releaseCaches: @Sendable () -> Void

  init(
    quietPeriod: Duration = .milliseconds(500), pollingPeriod: Duration = .seconds(30), reclaimQuietPeriod: Duration = .seconds(5),
    releaseCaches: @escaping @Sendable () -> Void = {}
  ) {
    self.quietPeriod = quietPeriod
    self.pollingPeriod = pollingPeriod
    self.reclaimQuietPeriod = reclaimQuietPeriod
    self.releaseCaches = releaseCaches
  }

  /// The calls after which trimming is worth it: those that start, stop or move things.
  static let lifecycleMethods: Set<String> = [
    "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "CreateContainer", "StartContainer", "StopContainer",
    "RemoveContainer", "ExecSync", "Exec", "Attach", "PortForward", "UpdateContainerResources", "PullImage", "RemoveImage",
    "ImportImages", "ExportImages",
  ]

  /// A call (`method`: its own name, `ListContainers`) started or ended.
  /// `now` is for tests, which step time instead of sleeping.
  func activity(_ method: String, now: ContinuousClock.Instant = .now) {
    let lifecycle = Self.lifecycleMethods.contains(method)
    state.withLock {
      $0.touched = true
      if lifecycle {
        $0.lastLifecycle = now
        $0.dirty = true
        $0.reclaimDue = true
      }
    }
  }

  /// Whether to trim now: `quietPeriod` after the last lifecycle call when one happened since the last trim,
  /// else `pollingPeriod` after the last trim when any call happened since, else `reclaimQuietPeriod`
  /// after the last lifecycle call when the binary's pages were not reclaimed since it; nil when not.
  /// `true` asks for the reclaim (see ``reclaimQuietPeriod``). Clears the flags it answers for.
  func takeQuiet(now: ContinuousClock.Instant = .now) -> Bool? {
    state.withLock {
      guard now - $0.lastLifecycle >= quietPeriod else { return nil }
      let reclaim = $0.reclaimDue && now - $0.lastLifecycle >= reclaimQuietPeriod
      guard reclaim || $0.dirty || ($0.touched && now - $0.lastTrim >= pollingPeriod) else { return nil }
      if reclaim { $0.reclaimDue = false }
      $0.dirty = false
      $0.touched = false
      $0.lastTrim = now
      return reclaim
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
      if let reclaim = takeQuiet() {
        releaseCaches()
        // What a burst touched goes back to reclaim once it is well over; polling's own pages come back and stay.
        MemoryFootprint.trimReadOnlyFileMappings(executableOnly: true, reclaim: reclaim)
        MemoryFootprint.releaseFreeHeap()
      }
    }
  }
}
