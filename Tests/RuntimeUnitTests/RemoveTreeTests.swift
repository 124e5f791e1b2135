import CrispCore
import Foundation
import Glibc
import Testing

/// Removing a directory never reaches through a mount left inside it (an idmapped volume view a crash left
/// behind must not cost the volume its files).
@Suite struct RemoveTreeTests {
  @Test(.enabled(if: getuid() == 0, "makes a bind mount: root only"))
  func aMountInsideTheTreeStopsTheRemovalAndKeepsItsFiles() throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-rmtree-\(UUID().uuidString)").path
    let volume = base + "/volume", tree = base + "/tree", view = base + "/tree/staging/0"
    try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: view, withIntermediateDirectories: true)
    try Data("keep".utf8).write(to: URL(fileURLWithPath: volume + "/data"))
    try Data("scratch".utf8).write(to: URL(fileURLWithPath: tree + "/scratch"))
    guard mount(volume, view, nil, UInt(MS_BIND), nil) == 0 else {
      Issue.record("bind mount failed: errno \(errno) (the unit tests run as root)")
      return
    }
    #expect(throws: SystemError.self) { try FilePath.removeTree(tree) }
    #expect(FileManager.default.fileExists(atPath: volume + "/data"))
    #expect(umount2(view, 0) == 0)
    try FilePath.removeTree(tree)
    #expect(!FileManager.default.fileExists(atPath: tree))
    try FilePath.removeTree(base)
  }
}

/// A container's writable layer is hostile input: any depth, any name bytes, symlinks to anywhere.
@Suite struct HostileTreeRemovalTests {
  static func scratch() throws -> String {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-rmtree-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    return base
  }

  /// Makes `depth` nested directories named `d` under `top` with *at calls only (the path is far longer
  /// than PATH_MAX), one descriptor at a time; `file` names a file created in every `every`-th of them.
  static func makeChain(_ top: String, depth: Int, file: [CChar]? = nil, every: Int = 1) throws {
    var fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw SystemError.last("open", top) }
    defer { close(fd) }
    for level in 0..<depth {
      guard mkdirat(fd, "d", 0o755) == 0 else { throw SystemError.last("mkdirat", "level \(level)") }
      let child = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
      guard child >= 0 else { throw SystemError.last("openat", "level \(level)") }
      close(fd)
      fd = child
      if let file, level % every == 0 {
        let f = openat(fd, file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard f >= 0 else { throw SystemError.last("create", "level \(level)") }
        close(f)
      }
    }
  }

  @Test func aTreeOneHundredThousandDeepIsRemoved() throws {
    let base = try Self.scratch()
    try FileManager.default.createDirectory(atPath: base + "/tree", withIntermediateDirectories: true)
    try Self.makeChain(base + "/tree", depth: 100_000, file: [102, 0], every: 1000)
    try FilePath.removeTree(base + "/tree")
    #expect(!FileManager.default.fileExists(atPath: base + "/tree"))
    try FilePath.removeTree(base)
  }

  @Test func namesThatAreNotUTF8AreRemoved() throws {
    let base = try Self.scratch()
    let tree = base + "/tree"
    try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
    let fd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    #expect(fd >= 0)
    defer { close(fd) }
    // "\xff", "a\xfe\xfd" (files), "\xc3(" (a directory holding "\x80" and a symlink named "\xff").
    let file1: [CChar] = [CChar(bitPattern: 0xff), 0]
    let file2: [CChar] = [97, CChar(bitPattern: 0xfe), CChar(bitPattern: 0xfd), 0]
    let dir: [CChar] = [CChar(bitPattern: 0xc3), 40, 0]
    for name in [file1, file2] {
      let f = openat(fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
      #expect(f >= 0)
      close(f)
    }
    #expect(mkdirat(fd, dir, 0o755) == 0)
    let inner = openat(fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    #expect(inner >= 0)
    let f = openat(inner, [CChar(bitPattern: 0x80), 0], O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    #expect(f >= 0)
    close(f)
    #expect(symlinkat("/nowhere", inner, file1) == 0)
    close(inner)
    try FilePath.removeTree(tree)
    #expect(!FileManager.default.fileExists(atPath: tree))
    try FilePath.removeTree(base)
  }

  @Test func aSymlinkToOutsideIsRemovedNotFollowed() throws {
    let base = try Self.scratch()
    let outside = base + "/outside", tree = base + "/tree"
    try FileManager.default.createDirectory(atPath: outside + "/keep", withIntermediateDirectories: true)
    try Data("keep".utf8).write(to: URL(fileURLWithPath: outside + "/keep/file"))
    try FileManager.default.createDirectory(atPath: tree + "/a/b", withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: tree + "/link", withDestinationPath: outside)
    try FileManager.default.createSymbolicLink(atPath: tree + "/a/b/up", withDestinationPath: "../../../outside/keep")
    try FilePath.removeTree(tree)
    #expect(!FileManager.default.fileExists(atPath: tree))
    #expect(FileManager.default.fileExists(atPath: outside + "/keep/file"))
    // The top itself a symlink: the link goes, not its target's content.
    try FileManager.default.createSymbolicLink(atPath: tree, withDestinationPath: outside)
    try FilePath.removeTree(tree)
    #expect(FileManager.default.fileExists(atPath: outside + "/keep/file"))
    try FilePath.removeTree(base)
  }

  @Test(.enabled(if: getuid() == 0, "makes a bind mount: root only"))
  func aMountPointBelowTheOpenLimitIsNotEntered() throws {
    let base = try Self.scratch()
    let volume = base + "/volume", tree = base + "/tree"
    try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
    try Data("keep".utf8).write(to: URL(fileURLWithPath: volume + "/data"))
    try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
    // 100 levels deep: past the walk's open-directory limit, so its ancestors were closed and reopened.
    let deep = tree + String(repeating: "/d", count: 100)
    try Self.makeChain(tree, depth: 100)
    guard mount(volume, deep, nil, UInt(MS_BIND), nil) == 0 else {
      Issue.record("bind mount failed: errno \(errno) (the unit tests run as root)")
      return
    }
    do {
      try FilePath.removeTree(tree)
      Issue.record("the removal went through a mount point")
    } catch {
      #expect(error.errno == EBUSY)
    }
    #expect(FileManager.default.fileExists(atPath: volume + "/data"))
    #expect(umount2(deep, 0) == 0)
    try FilePath.removeTree(tree)
    #expect(!FileManager.default.fileExists(atPath: tree))
    try FilePath.removeTree(base)
  }

  /// Going down 5 000 levels and back keeps at most the limit open, and each directory reopened on the way
  /// back up is checked to be the one left.
  @Test func theWalkKeepsABoundedNumberOfDirectoriesOpen() throws {
    let base = try Self.scratch()
    try Self.makeChain(base, depth: 5_000)
    let walk = try TreeWalk(root: base, reopen: .resume, openLimit: 8)
    var most = 0
    while let entry = try walk.next() {
      #expect(try walk.isDirectory(entry))
      #expect(try walk.enter(entry.name) == .entered)
      most = max(most, walk.openCount)
    }
    #expect(walk.depth == 5_000)
    while try walk.leave() != nil {
      most = max(most, walk.openCount)
      #expect(try walk.next() == nil, "a resumed directory carries on after the entry it was in")
    }
    #expect(most == 8)
    try FilePath.removeTree(base)
  }

  /// A directory moved elsewhere while the walk was below it: going back up stops with ESTALE instead of
  /// carrying on in the directory it was moved to.
  @Test func aDirectoryMovedOutDuringTheWalkStopsIt() throws {
    let base = try Self.scratch()
    try FileManager.default.createDirectory(atPath: base + "/tree", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: base + "/elsewhere", withIntermediateDirectories: true)
    try Self.makeChain(base + "/tree", depth: 50)
    let walk = try TreeWalk(root: base + "/tree", reopen: .restart, openLimit: 4)
    while let entry = try walk.next() { _ = try walk.enter(entry.name) }
    #expect(walk.depth == 50)
    // tree/d/d (level 2, long closed) moves out of the tree.
    #expect(rename(base + "/tree/d/d", base + "/elsewhere/moved") == 0)
    var error: SystemError?
    do {
      while try walk.leave() != nil {}
    } catch let caught {
      error = caught
    }
    #expect(error?.errno == ESTALE)
    #expect(walk.depth == 2, "it got back up to the moved directory, not past it")
    try FilePath.removeTree(base)
  }
}
