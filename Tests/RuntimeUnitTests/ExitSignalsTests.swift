import Foundation
@testable import Runtime
import Testing

/// Lists look only at containers whose bundle directory saw an exit file arrive; everything else they
/// cannot vouch for is looked at every time.
@Suite struct ExitSignalsTests {
  @Test func aRenamedExitFileFlagsItsContainerOnce() throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-exits-\(UUID().uuidString)").path
    let bundle = base + "/c1"
    try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: base) }
    let signals = ExitSignals()

    // Never watched: always looked at.
    #expect(signals.take().mustCheck("other"))
    signals.watch("c1", directory: bundle)
    // The first look after the watch: the exit may have landed before it.
    #expect(signals.take().mustCheck("c1"))
    #expect(!signals.take().mustCheck("c1"))
    #expect(signals.take().mustCheck("other"))

    // The shim writes its exit file to a temporary name and renames it into place.
    try "exit_code=3\n".write(toFile: bundle + "/.exit.tmp", atomically: false, encoding: .utf8)
    #expect(rename(bundle + "/.exit.tmp", bundle + "/exit") == 0)
    #expect(signals.take().mustCheck("c1"))
    #expect(!signals.take().mustCheck("c1"))

    // Unwatched again (the exit was claimed): always looked at.
    signals.unwatch("c1")
    #expect(signals.take().mustCheck("c1"))
  }

  /// The exit watcher and the lists read the same events: what one takes stays pending for the other.
  @Test func eachReaderSeesAnExitOnce() throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-exits-\(UUID().uuidString)").path
    let bundle = base + "/c3"
    try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: base) }
    let signals = ExitSignals()
    signals.watch("c3", directory: bundle)
    #expect(signals.take(.exitWatcher).mustCheck("c3"))
    #expect(!signals.take(.exitWatcher).mustCheck("c3"))
    // The lists had not looked yet: the first look after the watch is still theirs.
    #expect(signals.take(.lists).mustCheck("c3"))

    try "exit_code=0\n".write(toFile: bundle + "/.exit.tmp", atomically: false, encoding: .utf8)
    #expect(rename(bundle + "/.exit.tmp", bundle + "/exit") == 0)
    #expect(signals.take(.lists).mustCheck("c3"))
    #expect(!signals.take(.lists).mustCheck("c3"))
    #expect(signals.take(.exitWatcher).mustCheck("c3"))
    #expect(!signals.take(.exitWatcher).mustCheck("c3"))

    // A flag for one reader is that reader's only.
    signals.flag("c3", for: .exitWatcher)
    #expect(!signals.take(.lists).mustCheck("c3"))
    #expect(signals.take(.exitWatcher).mustCheck("c3"))
  }

  @Test func aRemovedBundleDropsItsWatch() throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-exits-\(UUID().uuidString)").path
    let bundle = base + "/c2"
    try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: base) }
    let signals = ExitSignals()
    signals.watch("c2", directory: bundle)
    _ = signals.take()
    try FileManager.default.removeItem(atPath: bundle)
    // The kernel ends the watch with the directory; the container is then unwatched, so looked at.
    _ = signals.take()
    #expect(signals.take().mustCheck("c2"))
  }
}
