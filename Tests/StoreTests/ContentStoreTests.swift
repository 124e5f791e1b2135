import CrispCore
import Foundation
import Store
import Testing

/// Issue 17 item 13: digests become paths in the content store only when they are digests.
@Suite struct ContentStoreTests {
  private func withStore(_ body: (ContentStore, String) throws -> Void) throws {
    let directory = "/tmp/crisp-content-" + UUID().uuidString.prefix(8).lowercased()
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try body(try ContentStore(root: directory + "/content"), directory)
  }

  @Test func namesThatAreNotDigestsNeverBecomePaths() throws {
    try withStore { store, directory in
      // A file outside the store that a `../` name would reach.
      try Data("secret".utf8).write(to: URL(fileURLWithPath: directory + "/outside"))
      let escape = "../../outside"
      #expect(!store.contains(sha256: escape))
      #expect(store.size(sha256: escape) == nil)
      func refused(_ what: String, _ body: () throws -> Void) {
        do {
          try body()
          Issue.record("\(what) accepted a name that is not a digest")
        } catch let error as CrispError {
          #expect(error.code == .invalidArgument, "\(what): \(error.message)")
        } catch {
          Issue.record("\(what): \(error)")
        }
      }
      refused("path") { _ = try store.path(sha256: escape) }
      refused("read") { _ = try store.read(sha256: escape) }
      refused("delete") { try store.delete(sha256: escape) }
      refused("write") { _ = try store.write(Array("x".utf8), expectedSHA256: escape) }
      refused("ingest ../") {
        let writer = try store.beginIngest(expectedSHA256: "../../../planted", expectedSize: 1); writer.abort()
      }
      refused("ingest upper case") {
        let writer = try store.beginIngest(expectedSHA256: String(repeating: "A", count: 64), expectedSize: 1); writer.abort()
      }
      refused("ingest negative size") {
        let writer = try store.beginIngest(expectedSHA256: nil, expectedSize: -1); writer.abort()
      }
      #expect(FileManager.default.fileExists(atPath: directory + "/outside"))
      // Nothing was created beside the store (an ingest file named after `../../../planted`).
      let beside = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
      #expect(beside == ["content", "outside"], "\(beside)")
      #expect(store.ingestFiles().isEmpty)
    }
  }

  @Test func strayFilesInTheBlobDirectoryAreNotBlobs() throws {
    try withStore { store, _ in
      let hex = try store.write(Array("hello".utf8))
      _ = FileManager.default.createFile(atPath: store.root + "/blobs/sha256/not-a-digest", contents: Data())
      #expect(store.allBlobs() == [hex])
      #expect(store.contains(sha256: hex))
      #expect(try store.read(sha256: hex) == Array("hello".utf8))
    }
  }

  @Test func anIngestRefusesMoreThanItsExpectedSize() throws {
    try withStore { store, _ in
      let writer = try store.beginIngest(expectedSHA256: nil, expectedSize: 3)
      try writer.append(Array("ab".utf8))
      #expect(throws: CrispError.self) { try writer.append(Array("cd".utf8)) }
      writer.abort()
      #expect(store.ingestFiles().isEmpty)
    }
  }
}
