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
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-cgroup-dir-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/memory.stat"
    let reader = CgroupFileReader()
    // Wanted lines past the buffer's end are not seen; the read stops there.
    let filler = String(repeating: "filler 1\n", count: CgroupFileReader.capacity / 9 + 10)
    try ("first 1\n" + filler + "last 2\n").write(toFile: path, atomically: true, encoding: .utf8)
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    #expect(fd >= 0)
    defer { close(fd) }
    #expect(reader.values(fd, keys: ["first", "last"]) == [1, nil])
    // The same open file is read from its start again, whatever was read before.
    let handle = try #require(FileHandle(forWritingAtPath: path))
    try handle.truncate(atOffset: 0)
    try handle.write(contentsOf: Data("  42\n".utf8))
    try handle.close()
    #expect(reader.number(fd) == 42)
    #expect(reader.number(fd) == 42)
    #expect(reader.number(nil) == nil)
    #expect(reader.values(nil, keys: ["a"]) == [nil])
    #expect(reader.readFailures == 0)
    // A descriptor that cannot be read counts as a failure.
    let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    defer { close(directoryFD) }
    #expect(reader.number(directoryFD) == nil)
    #expect(reader.readFailures == 1)
    #expect(CgroupFileReader.openDirectory(directory + "/missing") == nil)
    // A file is not a directory to read relative to.
    #expect(CgroupFileReader.openDirectory(path) == nil)
  }
}
