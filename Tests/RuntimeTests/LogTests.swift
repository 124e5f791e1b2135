import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

@Suite(.serialized) struct LogTests {
  /// Lines longer than max_container_log_line_size become partial records of that size.
  @Test func longLinesAreSplitIntoPartialRecords() async throws {
    try await PodHarness.with(extraConfig: "max_container_log_line_size = 1000") { pods in
      let podConfig = pods.podConfig("long")
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(
        pod, podConfig,
        pods.containerConfig(
          "long", command: ["/bin/sh", "-c", "head -c 2500 /dev/zero | tr '\\\\0' a; echo; echo short"]))
      let status = try await pods.waitForExit(id)
      let records = try String(contentsOfFile: status.logPath, encoding: .utf8).split(separator: "\n").map { line in
        let fields = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        return (String(fields[2]), fields.count > 3 ? fields[3].count : 0)
      }
      #expect(records.map(\.0) == ["P", "P", "F", "F"])
      #expect(records.map(\.1) == [1000, 1000, 500, 5])
    }
  }

  /// A log that cannot be written (its file system is full) never blocks the container: the shim keeps
  /// draining its output.
  @Test func aFullLogDiskDoesNotBlockTheContainer() async throws {
    try await PodHarness.with { pods in
      var podConfig = pods.podConfig("full")
      let small = pods.daemon.directory + "/small-logs"
      try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
      try TestEnvironment.shell("mount -t tmpfs -o size=64k crisp-small-logs \(small)")
      defer { _ = try? TestEnvironment.shell("umount -l \(small)") }
      podConfig.logDirectory = small
      let pod = try await pods.runPod(podConfig)
      // Far more output than a pipe buffer (64 KiB) and than the log file system can hold.
      let id = try await pods.runContainer(
        pod, podConfig,
        pods.containerConfig(
          "chatty", command: ["/bin/sh", "-c", "seq 1 200000; echo done"]))
      let status = try await pods.waitForExit(id, timeout: .seconds(60))
      #expect(status.exitCode == 0)
      let size = (try FileManager.default.attributesOfItem(atPath: status.logPath)[.size] as? Int) ?? 0
      #expect(size > 0 && size <= 64 * 1024)
    }
  }
}
