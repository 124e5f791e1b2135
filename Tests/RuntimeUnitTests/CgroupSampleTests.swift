import Config
import Foundation
import Runtime
import Testing

/// Reading a cgroup's counters, for both layouts, from hierarchies laid out in a temporary directory the way
/// the kernel lays them out (this host's own v2 mount has no controllers, so the v2 reader is shown here).
@Suite struct CgroupSampleTests {
  func withHierarchy(_ files: [String: String], _ body: (String) throws -> Void) throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-cgroup-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    for (path, content) in files {
      let full = root + "/" + path
      try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      try content.write(toFile: full, atomically: true, encoding: .utf8)
    }
    try body(root)
  }

  @Test func unifiedLayoutReadsV2Files() throws {
    let pod = "kubepods/burstable/pod1/abc"
    try withHierarchy([
      "cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
      "\(pod)/cpu.stat": "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
      "\(pod)/memory.current": "104857600\n",
      "\(pod)/memory.max": "209715200\n",
      "\(pod)/memory.stat": "anon 62914560\nfile 41943040\ninactive_file 20971520\npgfault 1234\npgmajfault 5\n",
      "\(pod)/memory.swap.current": "4096\n",
      "\(pod)/memory.swap.max": "max\n",
      "\(pod)/pids.current": "7\n",
    ]) { root in
      let cgroups = Cgroups(driver: .cgroupfs, mountPoint: root)
      #expect(cgroups.layout == .unified)
      let sample = try #require(cgroups.sample("/" + pod))
      #expect(sample.cpuNanoseconds == 2_500_000_000)
      #expect(sample.memoryUsage == 104_857_600)
      #expect(sample.memoryLimit == 209_715_200)
      #expect(sample.workingSet == 104_857_600 - 20_971_520)
      #expect(sample.available == 209_715_200 - (104_857_600 - 20_971_520))
      #expect(sample.rss == 62_914_560)
      #expect(sample.pageFaults == 1234 && sample.majorPageFaults == 5)
      #expect(sample.swapUsage == 4096)
      // "max" is no limit.
      #expect(sample.swapLimit == nil)
      #expect(sample.processCount == 7)
      #expect(cgroups.sample("/kubepods/missing") == nil)
      // What a container's stats read (no process count), and a pod's (no swap).
      let counters = CgroupCounters(cgroups: cgroups, capacity: 0)
      let container = try #require(counters.sample("/" + pod, parts: .swap))
      #expect(container.swapUsage == 4096 && container.processCount == nil && container.workingSet == sample.workingSet)
      let podSample = try #require(counters.sample("/" + pod, parts: .processes))
      #expect(podSample.swapUsage == nil && podSample.swapLimit == nil && podSample.processCount == 7)
    }
  }

  @Test func unifiedLayoutWithSystemdDriverFindsTheScope() throws {
    let scope = "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/crisp-abc.scope"
    try withHierarchy([
      "cgroup.controllers": "cpu memory pids\n",
      "\(scope)/cpu.stat": "usage_usec 1000\n",
      "\(scope)/memory.current": "4096\n",
    ]) { root in
      let cgroups = Cgroups(driver: .systemd, mountPoint: root)
      let path = cgroups.path(parent: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice", id: "abc")
      #expect(path == "kubepods-burstable-pod1.slice:crisp:abc")
      let sample = try #require(cgroups.sample(path))
      #expect(sample.cpuNanoseconds == 1_000_000)
      #expect(sample.memoryUsage == 4096)
      #expect(sample.memoryLimit == nil)
    }
  }

  @Test func legacyLayoutReadsV1Files() throws {
    let pod = "kubepods/pod2/def"
    try withHierarchy([
      "cpuacct/\(pod)/cpuacct.usage": "3000000000\n",
      "memory/\(pod)/memory.usage_in_bytes": "8192000\n",
      "memory/\(pod)/memory.limit_in_bytes": "9223372036854771712\n",
      "memory/\(pod)/memory.stat": "cache 100\ntotal_inactive_file 192000\ntotal_rss 4096000\ntotal_pgfault 10\ntotal_pgmajfault 1\n",
      "memory/\(pod)/memory.memsw.usage_in_bytes": "8200192\n",
      "pids/\(pod)/pids.current": "3\n",
    ]) { root in
      let cgroups = Cgroups(driver: .cgroupfs, mountPoint: root)
      #expect(cgroups.layout == .legacy)
      let sample = try #require(cgroups.sample("/" + pod))
      #expect(sample.cpuNanoseconds == 3_000_000_000)
      #expect(sample.workingSet == 8_192_000 - 192_000)
      // The kernel's "unlimited" (a page-rounded LONG_MAX) is no limit.
      #expect(sample.memoryLimit == nil && sample.available == nil)
      #expect(sample.rss == 4_096_000)
      #expect(sample.swapUsage == 8192)
      #expect(sample.processCount == 3)
    }
  }
}
