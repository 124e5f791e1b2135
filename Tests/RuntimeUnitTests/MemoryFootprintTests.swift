import CrispCore
import Foundation
import Testing

/// Values the process wrote into its binary's writable data survive the trims: reclaim takes only clean
/// file pages, and the read-only code dropped from the mapping comes back on use.
@Suite(.serialized) struct MemoryFootprintTests {
  nonisolated(unsafe) static var written: [Int] = []
  nonisolated(unsafe) static var counter = 0

  @Test func trimmingKeepsWhatTheProcessWrote() {
    Self.written = Array(0..<4096)
    Self.counter = 7
    let before = Self.resident()
    MemoryFootprint.trimReadOnlyFileMappings(executableOnly: true, reclaim: true)
    #expect(Self.counter == 7)
    #expect(Self.written.count == 4096 && Self.written.last == 4095)
    // The code keeps running after its pages were dropped.
    #expect((1...100).reduce(0, +) == 5050)
    let after = Self.resident()
    #expect(before > 0 && after > 0)
  }

  /// The process's resident set, in kB (from /proc/self/status).
  static func resident() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
      return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
    return 0
  }
}
