import Synchronization

/// What stats remember between calls: the previous CPU reading per cgroup (usage_nano_cores is a rate).
/// Writable layers' sizes come from the image manager's background walker (``WritableLayerMeter``).
final class StatsMemory: Sendable {
  struct CPUReading: Sendable {
    var timestamp: Int64
    var nanoseconds: UInt64
  }
  let cpu = Mutex<[String: CPUReading]>([:])
  /// Each container's cgroup, fixed at creation: kept so a stats pass does not decode every record's
  /// runtime details (JSON) again.
  let cgroupsPaths = Mutex<[String: String]>([:])

  /// Cores in use since the previous reading of `key`, in billionths of a core; nil on the first reading.
  func nanoCores(_ key: String, timestamp: Int64, nanoseconds: UInt64) -> UInt64? {
    cpu.withLock { readings in
      defer { readings[key] = CPUReading(timestamp: timestamp, nanoseconds: nanoseconds) }
      guard let previous = readings[key], timestamp > previous.timestamp, nanoseconds >= previous.nanoseconds else { return nil }
      let used = Double(nanoseconds - previous.nanoseconds)
      let elapsed = Double(timestamp - previous.timestamp)
      // Counters and clock are read apart, so a short interval can give any ratio: out of UInt64's range
      // it is no reading, never a trap.
      let cores = used / elapsed * 1_000_000_000
      return cores.isFinite && cores >= 0 && cores < 1.8e19 ? UInt64(cores) : nil
    }
  }

  func forget(_ key: String) {
    _ = cpu.withLock { $0.removeValue(forKey: key) }
    _ = cgroupsPaths.withLock { $0.removeValue(forKey: key) }
  }
}
