import CrispCore
import Foundation
import Glibc
import Images
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
}
