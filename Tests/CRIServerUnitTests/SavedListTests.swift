import Testing

@testable import CRIServer

/// The list entries kubelet's lists filter are built once per generation and never served for another;
/// the encoded answer is kept only beside the entries of its own generation.
@Suite struct SavedListTests {
  @Test func entriesAreBuiltOncePerGeneration() {
    let list = SavedList<String>()
    var builds = 0
    func build(_ items: [String]) -> () -> [String] {
      {
        builds += 1; return items
      }
    }
    #expect(list.kept(at: 1) == nil)
    #expect(list.items(at: 1, build: build(["a", "b"])) == ["a", "b"])
    #expect(list.kept(at: 1) == ["a", "b"])
    #expect(list.kept(at: 2) == nil)
    #expect(list.items(at: 1, build: build(["stale"])) == ["a", "b"])
    #expect(builds == 1)
    // A new generation is built afresh, and the old one is not served again.
    #expect(list.items(at: 2, build: build(["c"])) == ["c"])
    #expect(list.items(at: 1, build: build(["d"])) == ["d"])
    #expect(builds == 3)
    // A slow build of an older generation did not replace the newer entries.
    #expect(list.items(at: 2, build: build(["e"])) == ["c"])
    #expect(builds == 3)
  }

  @Test func bytesFollowTheirEntries() {
    let list = SavedList<String>()
    var encodes = 0
    func encode(_ items: [String]) -> [UInt8] {
      encodes += 1
      return Array(items.joined(separator: ",").utf8)
    }
    let first = list.items(at: 5) { ["x", "y"] }
    #expect(list.bytes(at: 5, items: first, encode: encode) == Array("x,y".utf8))
    #expect(list.bytes(at: 5, items: first, encode: encode) == Array("x,y".utf8))
    #expect(encodes == 1)
    // Entries of a newer generation drop the old bytes.
    let second = list.items(at: 6) { ["z"] }
    #expect(list.bytes(at: 6, items: second, encode: encode) == Array("z".utf8))
    #expect(encodes == 2)
    // Bytes for a generation whose entries are no longer kept are encoded but not kept.
    #expect(list.bytes(at: 5, items: first, encode: encode) == Array("x,y".utf8))
    #expect(list.bytes(at: 6, items: second, encode: encode) == Array("z".utf8))
    #expect(encodes == 3)
  }

  /// A filter every kept entry passes gets the unfiltered bytes; any other, or a generation not kept, nil.
  @Test func bytesForAFilterEveryEntryPasses() {
    let list = SavedList<String>()
    func encode(_ items: [String]) -> [UInt8] { Array(items.joined(separator: ",").utf8) }
    #expect(list.bytes(at: 3, ifEvery: { _ in true }, encode: encode) == nil)
    _ = list.items(at: 3) { ["ready-a", "ready-b"] }
    #expect(list.bytes(at: 3, ifEvery: { $0.hasPrefix("ready") }, encode: encode) == Array("ready-a,ready-b".utf8))
    #expect(list.bytes(at: 3, ifEvery: { $0.hasSuffix("a") }, encode: encode) == nil)
    #expect(list.bytes(at: 4, ifEvery: { _ in true }, encode: encode) == nil)
  }

  @Test func aFailedBuildKeepsNothing() {
    struct Failure: Error {}
    let list = SavedList<Int>()
    #expect(throws: Failure.self) { try list.items(at: 1) { () throws -> [Int] in throw Failure() } }
    #expect(list.items(at: 1) { [3] } == [3])
  }
}
