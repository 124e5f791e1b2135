import Config
import Foundation
@testable import Runtime
import Testing

/// Stats passes keep each cgroup's counter files open between samples, within a budget, and close the
/// files of cgroups no longer listed; values are those of the files at each sample.
@Suite struct CgroupCountersTests {
  func legacyHierarchy(_ pods: [String]) throws -> String {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-counters-\(UUID().uuidString)").path
    for pod in pods {
      for (directory, name, value) in [
        ("memory", "memory.usage_in_bytes", "1000\n"), ("memory", "memory.limit_in_bytes", "4000\n"),
        ("memory", "memory.stat", "total_inactive_file 100\ntotal_rss 700\n"), ("cpuacct", "cpuacct.usage", "5\n"),
        ("pids", "pids.current", "2\n"),
      ] {
        try FileManager.default.createDirectory(atPath: "\(root)/\(directory)/\(pod)", withIntermediateDirectories: true)
        try value.write(toFile: "\(root)/\(directory)/\(pod)/\(name)", atomically: false, encoding: .utf8)
      }
    }
    return root
  }

  /// Rewrites a file in place (same inode), as the kernel's counters change under an open descriptor.
  func rewrite(_ path: String, _ text: String) throws {
    let handle = try #require(FileHandle(forWritingAtPath: path))
    try handle.truncate(atOffset: 0)
    try handle.write(contentsOf: Data(text.utf8))
    try handle.close()
  }

  @Test func filesStayOpenAndAreReadAfresh() throws {
    let root = try legacyHierarchy(["a", "b"])
    defer { try? FileManager.default.removeItem(atPath: root) }
    let counters = CgroupCounters(cgroups: Cgroups(driver: .cgroupfs, mountPoint: root), capacity: 1)
    let first = try #require(counters.sample("/a"))
    #expect(first.memoryUsage == 1000 && first.memoryLimit == 4000 && first.workingSet == 900)
    #expect(first.cpuNanoseconds == 5 && first.processCount == 2 && first.swapUsage == nil)
    #expect(counters.openCount == 1)
    try rewrite("\(root)/memory/a/memory.usage_in_bytes", "3000\n")
    try rewrite("\(root)/cpuacct/a/cpuacct.usage", "9\n")
    let second = try #require(counters.sample("/a"))
    #expect(second.memoryUsage == 3000 && second.cpuNanoseconds == 9)
    #expect(second.timestamp >= first.timestamp)
    // Past the budget a cgroup is read all the same, without keeping its files.
    #expect(try #require(counters.sample("/b")).memoryUsage == 1000)
    #expect(counters.openCount == 1)
    #expect(counters.sample("/missing") == nil)
    // A cgroup no longer listed has its files closed; the budget is free for another.
    counters.retain(only: ["/b"])
    #expect(counters.openCount == 0)
    #expect(counters.sample("/b") != nil)
    #expect(counters.openCount == 1)
  }

  /// A part left out is not read (nil), whatever the file says; the rest reads the same.
  @Test func partsLeftOutAreNotRead() throws {
    let root = try legacyHierarchy(["a"])
    defer { try? FileManager.default.removeItem(atPath: root) }
    try "1500\n".write(toFile: "\(root)/memory/a/memory.memsw.usage_in_bytes", atomically: false, encoding: .utf8)
    let counters = CgroupCounters(cgroups: Cgroups(driver: .cgroupfs, mountPoint: root), capacity: 4)
    let all = try #require(counters.sample("/a"))
    #expect(all.swapUsage == 500 && all.processCount == 2)
    let container = try #require(counters.sample("/a", parts: .swap))
    #expect(container.swapUsage == 500 && container.processCount == nil)
    let pod = try #require(counters.sample("/a", parts: .processes))
    #expect(pod.swapUsage == nil && pod.processCount == 2)
    let neither = try #require(counters.sample("/a", parts: []))
    #expect(neither.swapUsage == nil && neither.processCount == nil)
    #expect(neither.memoryUsage == 1000 && neither.workingSet == 900 && neither.cpuNanoseconds == 5)
  }

  @Test func withoutABudgetNothingStaysOpen() throws {
    let root = try legacyHierarchy(["a"])
    defer { try? FileManager.default.removeItem(atPath: root) }
    let counters = CgroupCounters(cgroups: Cgroups(driver: .cgroupfs, mountPoint: root), capacity: 0)
    #expect(try #require(counters.sample("/a")).memoryUsage == 1000)
    #expect(counters.openCount == 0)
  }

  @Test func theBudgetFollowsTheOpenFileLimit() {
    // This process's limit is whatever the test runner has; the budget never exceeds 1024 cgroups.
    #expect((0...1024).contains(CgroupCounters.defaultCapacity()))
  }
}
