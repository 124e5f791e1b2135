public import CrispCore
import Dispatch
public import Logging
public import Store
import Synchronization

/// Containers' writable-layer usage (bytes and inodes), measured by one background walker and answered from
/// the last measurement.
///
/// A writable layer changes while its container runs, so its usage cannot be recorded once like an image
/// layer's; walking it on every stats call made ListContainerStats and ImageFsInfo as slow as the largest
/// container. Instead one task walks the layers one at a time, spreading a full pass over at least
/// ``passPeriod`` (with 250 containers, one small walk every 40 ms), and every answer is the last
/// measurement with its time. A container is absent until first measured; removal drops it.
public final class WritableLayerMeter: Sendable {
  /// One layer's last measurement.
  public struct Measurement: Sendable, Equatable {
    /// Nanoseconds since the epoch, when the walk finished.
    public var measuredAt: Int64
    public var usage: UsageTotals
  }

  /// A container's writable layer: who owns it and the directory to walk.
  public struct Layer: Sendable, Equatable {
    public var owner: String
    public var directory: String

    public init(owner: String, directory: String) {
      self.owner = owner
      self.directory = directory
    }
  }

  /// How long a full pass over every writable layer takes at least: the walks are spread over it.
  public static let passPeriod: Duration = .seconds(10)
  /// The shortest pause between two walks, however many layers there are: bounds the walker's CPU share.
  static let minimumPause: Duration = .milliseconds(20)

  /// How many entries one slice of a walk visits before the walker yields: a layer with millions of inodes
  /// is walked in many short slices, not one long stretch that holds up the pass and shutdown.
  public static let sliceEntries = 4096
  /// The pause between two slices of one walk: bounds the walker's CPU share inside a huge layer too.
  public static let slicePause: Duration = .milliseconds(2)

  private let readings = Mutex<[String: Measurement]>([:])
  /// Owners whose layer was removed during the current pass: a walk of theirs still in flight must not put
  /// its result back. Cleared when the next pass starts from a fresh listing.
  private let removed = Mutex<Set<String>>([])
  private let sliceEntries: Int
  private let slicePause: Duration

  /// `sliceEntries` and `slicePause` are the defaults above except in tests.
  public init(sliceEntries: Int = WritableLayerMeter.sliceEntries, slicePause: Duration = WritableLayerMeter.slicePause) {
    self.sliceEntries = max(1, sliceEntries)
    self.slicePause = slicePause
  }

  /// The last measurement of `owner`'s writable layer; nil until its first.
  public func usage(owner: String) -> Measurement? { readings.withLock { $0[owner] } }

  /// Every measured layer added up, and the oldest of their measurement times (nil when none is measured).
  public func total() -> (usage: UsageTotals, measuredAt: Int64?) {
    readings.withLock { readings in
      var sum = UsageTotals()
      var oldest: Int64?
      for reading in readings.values {
        sum.add(reading.usage)
        oldest = min(oldest ?? reading.measuredAt, reading.measuredAt)
      }
      return (sum, oldest)
    }
  }

  /// Drops `owner`'s measurement (its writable layer was removed).
  public func forget(_ owner: String) {
    removed.withLock { _ = $0.insert(owner) }
    _ = readings.withLock { $0.removeValue(forKey: owner) }
  }

  /// Walks one layer in slices of ``sliceEntries`` entries (each on a dispatch thread, not the tasks' pool,
  /// with ``slicePause`` between them) and keeps the result. A walk that could not finish is a lower bound,
  /// and never lower than the last reading: a container must not shrink its ephemeral-storage usage (and
  /// escape eviction) by making the walk fail. Cancelling the task (daemon shutdown) stops the walk within
  /// one entry and keeps the last reading.
  public func measure(_ layer: Layer, logger: Logger) async {
    let walk = DiskUsageWalk(layer.directory)
    let progress = await withTaskCancellationHandler {
      await walkInSlices(walk)
    } onCancel: {
      walk.cancel()
    }
    guard progress == .finished else { return }
    let usage = walk.usage
    var measured = UsageTotals(bytes: usage.bytes, inodes: usage.inodes)
    let now = Store.now()
    readings.withLock { readings in
      // Removed while it was walked: its result describes a layer that no longer exists. Checked under the
      // readings' lock, which `forget` takes after marking the owner removed.
      if removed.withLock({ $0.contains(layer.owner) }) { return }
      if usage.failure != nil, let previous = readings[layer.owner] {
        measured = UsageTotals(bytes: max(measured.bytes, previous.usage.bytes), inodes: max(measured.inodes, previous.usage.inodes))
      }
      readings[layer.owner] = Measurement(measuredAt: now, usage: measured)
    }
    if let failure = usage.failure {
      logger.warning("writable layer only partly measured", metadata: ["container": "\(layer.owner)", "reason": "\(failure)"])
    }
  }

  /// Runs `walk` slice by slice until it finishes or is cancelled.
  private func walkInSlices(_ walk: DiskUsageWalk) async -> DiskUsageWalk.Progress {
    let budget = sliceEntries
    while true {
      let progress = await withCheckedContinuation { continuation in
        DispatchQueue.global(qos: .utility).async { continuation.resume(returning: walk.step(budget: budget)) }
      }
      guard progress == .more else { return progress }
      // Between slices the other layers' readers and the pool run; a cancelled walk ends here at the latest.
      try? await Task.sleep(for: slicePause)
      if Task.isCancelled { return .cancelled }
    }
  }

  /// One pass: drops measurements of layers that are gone, then walks each layer (never measured first, then
  /// the longest unmeasured), pausing `pause` after each walk. One walk at a time.
  public func pass(_ layers: [Layer], pause: (Int) -> Duration, logger: Logger) async {
    let owners = Set(layers.map(\.owner))
    // The listing is newer than any removal before it: only removals from now on matter to this pass.
    removed.withLock { $0.removeAll() }
    let known = readings.withLock { readings in
      readings = readings.filter { owners.contains($0.key) }
      return readings.mapValues(\.measuredAt)
    }
    let ordered = layers.sorted { (known[$0.owner] ?? Int64.min) < (known[$1.owner] ?? Int64.min) }
    let wait = pause(ordered.count)
    for layer in ordered {
      if Task.isCancelled { return }
      await measure(layer, logger: logger)
      try? await Task.sleep(for: wait)
    }
  }

  /// The pause after each walk for a pass over `count` layers to take ``passPeriod``.
  public static func pause(forPassOver count: Int) -> Duration {
    max(minimumPause, passPeriod / max(1, count))
  }

  /// Measures until cancelled: `layers` lists the current writable layers at the start of each pass.
  public func run(layers: @Sendable () throws(CrispError) -> [Layer], logger: Logger) async {
    while !Task.isCancelled {
      let current: [Layer]
      do {
        current = try layers()
      } catch {
        // Keep the readings: a store that did not answer once says nothing about the layers, and dropping
        // them would hide every container's usage from eviction until the next pass.
        logger.warning("cannot list writable layers to measure", metadata: ["error": "\(error.message)"])
        try? await Task.sleep(for: Self.passPeriod)
        continue
      }
      if current.isEmpty {
        // Nothing to measure: look again a pass later (a new container waits at most that long).
        forgetAll()
        try? await Task.sleep(for: Self.passPeriod)
        continue
      }
      await pass(current, pause: Self.pause(forPassOver:), logger: logger)
    }
  }

  private func forgetAll() { readings.withLock { $0.removeAll() } }
}
