import Foundation
@testable import Runtime
import Testing

/// The cgroup file parsers on the bytes the kernel writes, and on everything else a file could hold.
@Suite struct CgroupFileReaderTests {
  func number(_ text: String) -> UInt64? {
    Array(text.utf8).withUnsafeBytes { CgroupFileReader.number($0) }
  }

  func values(_ text: String, _ keys: [String]) -> [UInt64?] {
    var result = [UInt64?](repeating: nil, count: keys.count)
    Array(text.utf8).withUnsafeBytes { CgroupFileReader.values($0, keys: keys.map { Array($0.utf8) }, into: &result) }
    return result
  }

  @Test func numbers() {
    #expect(number("104857600\n") == 104_857_600)
    #expect(number("  7 \n") == 7)
    #expect(number("0") == 0)
    #expect(number("18446744073709551615\n") == UInt64.max)
    for bad in ["max\n", "", "\n", "-1", "18446744073709551616", "99999999999999999999999", "1 2", "12a", "+3"] {
      #expect(number(bad) == nil, "\(bad)")
    }
  }

  @Test func keyedLinesTakeOnlyTheWantedKeys() {
    let stat = "cache 100\nrss 5\nrss_huge 9\ntotal_rss 4096000\ntotal_rss_huge 0\ntotal_pgfault 10\ntotal_pgfault 99\nodd line here\nnovalue\n"
    #expect(values(stat, ["total_rss", "total_pgfault", "total_inactive_file", "rss"]) == [4_096_000, 10, nil, 5])
    // No final newline; a value that is not a number; a key that is a prefix of another.
    #expect(values("usage_usec 2500000", ["usage_usec"]) == [2_500_000])
    #expect(values("anon max\nanon_thp 4\n", ["anon"]) == [nil])
    #expect(values("", ["anon"]) == [nil])
    #expect(values("\n\n \n", ["anon"]) == [nil])
  }

  @Test func filesAreReadUpToTheBuffer() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-cgroup-file-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let reader = CgroupFileReader()
    // Wanted lines past the buffer's end are not seen; the read stops there.
    let filler = String(repeating: "filler 1\n", count: CgroupFileReader.capacity / 9 + 10)
    try ("first 1\n" + filler + "last 2\n").write(toFile: path, atomically: true, encoding: .utf8)
    #expect(reader.values(path, keys: ["first", "last"]) == [1, nil])
    try "  42\n".write(toFile: path, atomically: true, encoding: .utf8)
    #expect(reader.number(path) == 42)
    #expect(reader.number(path + ".missing") == nil)
    #expect(reader.values(path + ".missing", keys: ["a"]) == [nil])
  }
}
