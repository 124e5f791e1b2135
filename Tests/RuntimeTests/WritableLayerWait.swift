import CRIAPI
import Foundation
import TestSupport

/// Writable-layer usage comes from a background walker that spreads a pass over every layer across ten
/// seconds: tests wait for the measurement they expect instead of reading the first answer.
enum WritableLayerWait {
  /// The container's stats once its writable layer is measured at `bytes` and `inodes` or more (the last
  /// stats after `timeout` otherwise, for the caller's expectations to report).
  static func stats(
    _ pods: PodHarness, _ container: String, bytes: UInt64 = 0, inodes: UInt64 = 1, timeout: Duration = .seconds(60)
  ) async throws -> Runtime_V1_ContainerStats {
    let deadline = ContinuousClock.now + timeout
    while true {
      let stats = try await pods.runtime { try await $0.containerStats(.with { $0.containerID = container }).stats }
      let layer = stats.writableLayer
      if layer.usedBytes.value >= bytes && layer.inodesUsed.value >= inodes || ContinuousClock.now >= deadline { return stats }
      try await Task.sleep(for: .milliseconds(250))
    }
  }
}
