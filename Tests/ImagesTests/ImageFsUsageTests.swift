import CRIAPI
import Foundation
import Images
import Testing
import TestSupport

/// ImageFsInfo from usage accounting, checked against a walk of the daemon's store: after a pull, after the
/// image's removal, across a restart (no walk: the numbers are there at once), and on a store whose
/// accounting was lost (start-up measures it again in the background).
@Suite(.serialized) struct ImageFsUsageTests {
  /// An image whose unpacked layers are far larger than its blobs (zeros compress), with a few small files.
  static func spec(repository: String) -> [String: Any] {
    var spec = busyboxSpec(repository: repository, tag: "1")
    var images = spec["images"] as? [[String: Any]] ?? []
    var layers = images[0]["layers"] as? [[String: Any]] ?? []
    layers.append([
      "compression": "gzip",
      "entries": [
        ["path": "data", "type": "dir"], ["path": "data/zeros", "type": "file", "zeros": 3_000_000],
        ["path": "data/a", "type": "file", "content": "a"], ["path": "data/b", "type": "file", "content": "b"],
      ],
    ])
    images[0]["layers"] = layers
    spec["images"] = images
    return spec
  }

  /// What the image side of ImageFsInfo must be: the content store (without downloads in progress: none
  /// here) and every snapshot directory (no container runs in these tests, so all are image layers).
  static func walk(_ daemon: DaemonHarness) -> (bytes: Int64, inodes: Int64) {
    var bytes: Int64 = 0, inodes: Int64 = 0
    let content = DiskUsage.measure(daemon.root + "/content")
    bytes += content.bytes
    inodes += content.inodes
    for name in daemon.snapshotDirectories {
      let usage = DiskUsage.measure(daemon.root + "/snapshots/" + name)
      bytes += usage.bytes
      inodes += usage.inodes
    }
    return (bytes, inodes)
  }

  static func imageFs(_ daemon: DaemonHarness) async throws -> (bytes: Int64, inodes: Int64) {
    let response = try await daemon.withClients { _, images in try await images.imageFsInfo(.init()) }
    let usage = try #require(response.imageFilesystems.first)
    #expect(usage.timestamp > 0)
    return (Int64(clamping: usage.usedBytes.value), Int64(clamping: usage.inodesUsed.value))
  }

  @Test func imageFsInfoMatchesTheStoreThroughPullRemovalAndRestart() async throws {
    let registry = try RegistryHarness()
    _ = try registry.push(Self.spec(repository: "fs/app"))
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")

    // Compared as changes: the runtime-handler probe at start-up runs the pause image's layer as a rootfs, and
    // runc adds /dev and /proc mount points to it after its usage was recorded (a known difference of a
    // few inodes, the same before and after).
    let empty = try await Self.imageFs(daemon)
    let emptyWalk = Self.walk(daemon)
    #expect(empty.bytes <= emptyWalk.bytes && empty.inodes <= emptyWalk.inodes && emptyWalk.inodes - empty.inodes < 20, "\(empty) \(emptyWalk)")
    _ = try await daemon.pull("\(registry.host)/fs/app:1")
    let pulled = try await Self.imageFs(daemon)
    let pulledWalk = Self.walk(daemon)
    #expect(pulled.bytes - empty.bytes == pulledWalk.bytes - emptyWalk.bytes, "\(empty) \(pulled) \(emptyWalk) \(pulledWalk)")
    #expect(pulled.inodes - empty.inodes == pulledWalk.inodes - emptyWalk.inodes, "\(empty) \(pulled) \(emptyWalk) \(pulledWalk)")
    #expect(pulled.bytes >= empty.bytes + 3_000_000, "\(empty) → \(pulled)")
    #expect(pulled.inodes >= empty.inodes + 8)

    // A restart answers the same at once, from the records: nothing is measured again.
    daemon.stop()
    try daemon.start()
    #expect(try await Self.imageFs(daemon) == pulled)
    #expect(!daemon.log.contains("usage accounting completed"))

    try await daemon.removeImage("\(registry.host)/fs/app:1")
    let removed = try await Self.imageFs(daemon)
    #expect(removed == empty)
    #expect(Self.walk(daemon) == emptyWalk)
    #expect(removed.bytes <= pulled.bytes - 3_000_000)
    #expect(removed.inodes < pulled.inodes)
  }

  @Test func aStoreWithoutAccountingIsMeasuredOnceAtStartUp() async throws {
    let registry = try RegistryHarness()
    _ = try registry.push(Self.spec(repository: "fs/old"))
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    _ = try await daemon.pull("\(registry.host)/fs/old:1")
    let pulled = try await Self.imageFs(daemon)
    let pulledWalk = Self.walk(daemon)
    daemon.stop()

    // As a crisp from before usage accounting left its store: no blob recorded, no snapshot measured.
    let forget =
      "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute('DELETE FROM blob_usage'); "
      + "db.execute('UPDATE snapshots SET inodes = NULL'); db.commit()"
    let result = try DaemonHarness.run("/usr/bin/python3", ["-c", forget, daemon.root + "/crisp.db"])
    #expect(result.status == 0, "\(result.output)")

    try daemon.start()
    let deadline = ContinuousClock.now + .seconds(30)
    while !daemon.log.contains("usage accounting completed") && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
    #expect(daemon.log.contains("usage accounting completed"))
    // Measured again from the disk: what the walk sees now (the pause layer's probe additions included).
    #expect(try await Self.imageFs(daemon) == Self.walk(daemon))
    #expect(Self.walk(daemon) == pulledWalk)
    #expect(try await Self.imageFs(daemon).bytes >= pulled.bytes)
  }
}
