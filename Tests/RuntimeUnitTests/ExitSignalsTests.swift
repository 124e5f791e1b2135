import Foundation
@testable import Runtime
import Synchronization
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

  /// A container whose exit file landed before its watch (it exited at once) is looked at by the exit
  /// watcher's next look, and by the lists', once each; a claimed container is not looked at again.
  @Test func anExitBeforeTheWatchIsLookedAtOnce() throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-exits-\(UUID().uuidString)").path
    let bundle = base + "/c4"
    try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: base) }
    try "exit_code=1\n".write(toFile: bundle + "/exit", atomically: true, encoding: .utf8)
    let watch = ExitWatch()
    // No event will come for this exit; registering gives the container its one look.
    watch.watch("c4", sandboxID: "pod", bundle: bundle)
    #expect(watch.toLookAt() == ["c4"])
    #expect(watch.toLookAt().isEmpty)
    #expect(watch.signals.take(.lists).mustCheck("c4"))
    // Registration and the watcher's look are one step each: looks racing registrations never lose one.
    let ids = (0..<200).map { "r\($0)" }
    for id in ids { try FileManager.default.createDirectory(atPath: "\(base)/\(id)", withIntermediateDirectories: false) }
    let seen = Mutex<Set<String>>([])
    DispatchQueue.concurrentPerform(iterations: 2) { worker in
      if worker == 0 {
        for id in ids { watch.watch(id, sandboxID: "pod", bundle: "\(base)/\(id)") }
      } else {
        for _ in 0..<400 { seen.withLock { $0.formUnion(watch.toLookAt()) } }
      }
    }
    seen.withLock { $0.formUnion(watch.toLookAt()) }
    #expect(seen.withLock { $0 } == Set(ids))
    #expect(watch.claim("c4") == "pod")
    #expect(watch.claim("c4") == nil)
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
