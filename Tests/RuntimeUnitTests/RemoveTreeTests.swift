import CrispCore
import Foundation
import Glibc
import Testing

/// Removing a directory never reaches through a mount left inside it (an idmapped volume view a crash left
/// behind must not cost the volume its files).
@Suite struct RemoveTreeTests {
  @Test func aMountInsideTheTreeStopsTheRemovalAndKeepsItsFiles() throws {
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
