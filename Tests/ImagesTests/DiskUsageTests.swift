import CrispCore
import Foundation
import Glibc
import Images
import Logging
import Store
import Testing

/// Disk usage of a container's writable layer is measured over a tree the container built: any depth, any
/// width, hard links. The walk must count all of it or say it could not.
@Suite struct DiskUsageTests {
  struct Expected {
    var bytes: Int64 = 0
    var inodes: Int64 = 0
    mutating func add(_ fd: Int32) {
      var info = stat()
      _ = fstat(fd, &info)
      bytes += Int64(info.st_blocks) * 512
      inodes += 1
    }
  }

  /// Builds `depth` nested directories under `top`, each with `files` one-byte files, and returns what a
  /// correct count finds (each inode once: measured here with fstat as it is made).
  static func build(_ top: String, depth: Int, files: Int, hardLinks: Bool = false) throws -> Expected {
    var expected = Expected()
    var fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw SystemError.last("open", top) }
    for level in 0...depth {
      for index in 0..<files {
        let f = openat(fd, "f\(index)", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard f >= 0 else { throw SystemError.last("create", "level \(level)") }
        _ = write(f, "x", 1)
        expected.add(f)
        close(f)
        // A second name for the same file counts nothing more.
        if hardLinks { _ = linkat(fd, "f\(index)", fd, "link\(index)", 0) }
      }
      if level < depth {
        guard mkdirat(fd, "d", 0o755) == 0 else { throw SystemError.last("mkdirat", "level \(level)") }
      }
      expected.add(fd)
      if level == depth { break }
      let child = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
      guard child >= 0 else { throw SystemError.last("openat", "level \(level)") }
      close(fd)
      fd = child
    }
    close(fd)
    return expected
  }

  static func scratch() throws -> String {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-du-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    return base
  }

  @Test func aTreeDeeperThanTheDescriptorLimitIsCountedWhole() throws {
    let base = try Self.scratch()
    defer { try? FilePath.removeTree(base) }
    let expected = try Self.build(base, depth: 30_000, files: 1)
    let usage = DiskUsage.measure(base)
    #expect(usage.failure == nil)
    #expect(usage.inodes == expected.inodes)
    #expect(usage.bytes == expected.bytes)
  }

  /// Wide directories on a chain deeper than the open limit: directories closed on the way down are read
  /// on from where they were, so every entry counts once, and hard links once.
  @Test func reopenedDirectoriesCountEachEntryOnce() throws {
    let base = try Self.scratch()
    defer { try? FilePath.removeTree(base) }
    let expected = try Self.build(base, depth: 300, files: 40, hardLinks: true)
    let usage = DiskUsage.measure(base, openLimit: 4)
    #expect(usage.failure == nil)
    #expect(usage.inodes == expected.inodes)
    #expect(usage.bytes == expected.bytes)
  }

  @Test func aWalkThatCannotStartSaysSo() throws {
    let base = try Self.scratch()
    defer { try? FilePath.removeTree(base) }
    try Data("x".utf8).write(to: URL(fileURLWithPath: base + "/file"))
    let usage = DiskUsage.measure(base + "/file")
    #expect(usage.failure != nil)
    #expect(!usage.complete)
    // Missing is empty, not a failure.
    let missing = DiskUsage.measure(base + "/missing")
    #expect(missing.complete && missing.inodes == 0 && missing.bytes == 0)
  }

  /// A big layer is walked in slices: each visits at most its budget, the walk picks up where the last
  /// slice stopped, and the total is the same as one walk's.
  @Test func aWalkInSlicesResumesAndFinishesWithTheWholeTotal() throws {
    let base = try Self.scratch()
    defer { try? FilePath.removeTree(base) }
    let expected = try Self.build(base, depth: 60, files: 150, hardLinks: true)
    let walk = DiskUsageWalk(base, openLimit: 4)
    var slices = 0
    var counted: Int64 = 0
    while walk.step(budget: 500) == .more {
      slices += 1
      // Hard links make an entry count nothing, so a slice adds at most its budget.
      #expect(walk.usage.inodes - counted <= 500)
      counted = walk.usage.inodes
    }
    // 60 levels of 150 files and 150 links: over 18 000 entries, so at least 36 slices.
    #expect(slices >= 36)
    #expect(walk.usage.failure == nil)
    #expect(walk.usage.inodes == expected.inodes)
    #expect(walk.usage.bytes == expected.bytes)
    #expect(walk.step(budget: 500) == .finished)
  }

  /// A cancelled walk stops at its next entry, in this slice and every later one, with a partial count.
  @Test func aCancelledWalkStopsAtOnce() throws {
    let base = try Self.scratch()
    defer { try? FilePath.removeTree(base) }
    let expected = try Self.build(base, depth: 20, files: 200)
    let walk = DiskUsageWalk(base)
    #expect(walk.step(budget: 100) == .more)
    walk.cancel()
    #expect(walk.step(budget: Int.max) == .cancelled)
    #expect(walk.step(budget: Int.max) == .cancelled)
    #expect(walk.usage.inodes > 0 && walk.usage.inodes <= 101 && walk.usage.inodes < expected.inodes)
  }

  /// The writable-layer walker on a large layer: cancelling the task that measures (daemon shutdown) ends
  /// the walk within a slice, long before it could finish, and keeps no partial reading; the next
  /// measurement walks the whole layer and records the right total.
  @Test func theMeterStopsAHugeWalkWhenCancelledAndMeasuresItWholeLater() async throws {
    let base = try Self.scratch()
    defer { try? FilePath.removeTree(base) }
    let expected = try Self.build(base, depth: 40, files: 250)
    // 100 entries a slice and 100 ms between slices: the whole walk would take over 10 s.
    let meter = WritableLayerMeter(sliceEntries: 100, slicePause: .milliseconds(100))
    let layer = WritableLayerMeter.Layer(owner: "huge", directory: base)
    let logger = Logger(label: "test")
    let measuring = Task { await meter.measure(layer, logger: logger) }
    try await Task.sleep(for: .milliseconds(200))
    measuring.cancel()
    await measuring.value
    // No reading: the walk (over 10 s of slices) stopped before finishing. How soon it returns is not
    // asserted: under the parallel unit run the slice in flight waited 20 s for a dispatch thread.
    #expect(meter.usage(owner: "huge") == nil)

    let quick = WritableLayerMeter(sliceEntries: 100, slicePause: .zero)
    await quick.measure(layer, logger: logger)
    #expect(quick.usage(owner: "huge")?.usage == UsageTotals(bytes: expected.bytes, inodes: expected.inodes))
  }
}
