import CrispCore
import Foundation
import Store
import Testing

@Suite struct StoreTests {
  /// A fresh directory per test, removed afterwards.
  private func withTemporaryStore(_ body: (Store, String) throws -> Void) throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-store-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/crisp.db"
    let store = try Store(path: path)
    try body(store, path)
    store.close()
  }

  @Test func migratesFromEmpty() throws {
    try withTemporaryStore { store, path in
      #expect(try store.appliedMigrations() == ["v1", "v2-usage"])
      // Opening again applies nothing twice.
      let again = try Store(path: path)
      #expect(try again.appliedMigrations() == ["v1", "v2-usage"])
      again.close()
    }
  }

  @Test func duplicateNameReservationFailsWithATypedError() throws {
    try withTemporaryStore { store, _ in
      try store.reserveName("web_default_uid_0", for: "sandbox-a")
      do {
        try store.reserveName("web_default_uid_0", for: "sandbox-b")
        Issue.record("a second owner took a reserved name")
      } catch let error as CrispError {
        #expect(error.code == .alreadyExists)
        #expect(error.message.contains("sandbox-a"))
      }
      #expect(try store.nameOwner("web_default_uid_0") == "sandbox-a")
    }
  }

  @Test func reservationsAreIdempotentAndReleasable() throws {
    try withTemporaryStore { store, _ in
      try store.reserveName("n", for: "a")
      try store.reserveName("n", for: "a")
      // Releasing on behalf of someone else leaves the holder in place.
      try store.releaseName("n", for: "b")
      #expect(try store.nameOwner("n") == "a")
      try store.releaseName("n", for: "a")
      #expect(try store.nameOwner("n") == nil)
      try store.reserveName("n", for: "b")
      #expect(try store.nameOwner("n") == "b")
    }
  }

  @Test func reservationsSurviveReopening() throws {
    try withTemporaryStore { store, path in
      try store.reserveName("kept", for: "x")
      let reopened = try Store(path: path)
      #expect(try reopened.nameOwner("kept") == "x")
      reopened.close()
    }
  }

  @Test func concurrentReservationsHaveOneWinner() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-store-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = try Store(path: directory + "/crisp.db")
    let winners = await withTaskGroup(of: Bool.self) { group in
      for index in 0..<16 {
        group.addTask {
          do {
            try store.reserveName("contested", for: "owner-\(index)")
            return true
          } catch {
            return false
          }
        }
      }
      var count = 0
      for await won in group where won { count += 1 }
      return count
    }
    #expect(winners == 1)
    store.close()
  }
}

@Suite struct AtomicFileTests {
  @Test func replacesContentAndLeavesNoTemporaryFiles() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-atomic-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/file"
    try AtomicFile.write("one", to: path, mode: 0o600)
    try AtomicFile.write("two", to: path, mode: 0o640)
    #expect(try FilePath.readText(path) == "two")
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    #expect((attributes[.posixPermissions] as? Int) == 0o640)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["file"])
  }

  @Test func failsIntoAMissingDirectoryWithTheErrno() {
    do {
      try AtomicFile.write("x", to: "/nonexistent-crisp-dir/file")
      Issue.record("write into a missing directory succeeded")
    } catch {
      #expect(error.errno == ENOENT)
    }
  }
}

@Suite struct OOMScoreTests {
  @Test func raisingIsAppliedAndLoweringIsClampedNotFailed() throws {
    // Run on a child so the test process keeps its own score.
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/bin/sleep")
    child.arguments = ["30"]
    try child.run()
    defer {
      kill(child.processIdentifier, SIGKILL)
      while child.isRunning { usleep(5_000) }
    }
    let pid = String(child.processIdentifier)
    let start = try OOMScore.current(of: pid)
    let raised = min(start + 100, 1000)
    #expect(try OOMScore.apply(raised, to: pid) == .applied(raised))
    #expect(try OOMScore.current(of: pid) == raised)
    // Lowering needs CAP_SYS_RESOURCE: applied where it is held, clamped (never an error) where not.
    switch try OOMScore.apply(-999, to: pid) {
    case .applied(let value): #expect(value == -999)
    case .clamped(let requested, let kept):
      #expect(requested == -999)
      #expect(kept == raised)
    }
  }

  @Test func childScoresRespectTheDaemonUnderRestriction() {
    #expect(OOMScore.clampForChild(-998, daemonScore: -999, restrictToDaemon: true) == -998)
    #expect(OOMScore.clampForChild(-1000, daemonScore: -999, restrictToDaemon: true) == -999)
    #expect(OOMScore.clampForChild(-1000, daemonScore: -999, restrictToDaemon: false) == -1000)
    #expect(OOMScore.clampForChild(5000, daemonScore: 0, restrictToDaemon: false) == 1000)
  }
}
