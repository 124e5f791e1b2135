import Foundation
import Runtime
import Testing

/// Kept-open counter files against the kernel's own cgroup files: a cgroup removed under its open files
/// reads as gone, and one made again at the same path is read afresh, not through the dead files.
@Suite(.serialized) struct CgroupCountersKernelTests {
  @Test func aRemovedCgroupIsGoneAndARemadeOneIsReadAgain() throws {
    let cgroups = Cgroups(driver: .cgroupfs)
    let name = "crisp-counters-test-\(getpid())"
    let directories =
      cgroups.layout == .unified
      ? ["/sys/fs/cgroup/\(name)"] : ["memory", "cpuacct", "pids"].map { "/sys/fs/cgroup/\($0)/\(name)" }
    func make() { for directory in directories { mkdir(directory, 0o755) } }
    func remove() { for directory in directories { rmdir(directory) } }
    make()
    defer { remove() }
    let counters = CgroupCounters(cgroups: cgroups, capacity: 8)
    let first = try #require(counters.sample("/" + name))
    #expect(first.memoryUsage != nil)
    #expect(counters.openCount == 1)
    // The kernel lets the directory go although its files are open here.
    remove()
    #expect(directories.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
    #expect(counters.sample("/" + name) == nil)
    #expect(counters.openCount == 0)
    make()
    let again = try #require(counters.sample("/" + name))
    #expect(again.memoryUsage == 0)
    #expect(counters.openCount == 1)
  }
}
