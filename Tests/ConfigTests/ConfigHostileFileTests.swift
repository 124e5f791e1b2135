import Config
import Foundation
import Glibc
import Testing

/// Configuration files an attacker with write access to config.d (or a broken installer) could leave:
/// each is refused with its file and, where there is one, its line; none crashes or blocks the reader.
@Suite struct ConfigHostileFileTests {
  typealias Layout = ConfigDropInTests.Layout

  static func dotted(_ parts: Int) -> String { [String](repeating: "a", count: parts).joined(separator: ".") }
  static let deepKeys: [String] = [
    "[" + dotted(40_000) + "]\n",
    "x = 1\n" + dotted(100_000) + " = 1\n",
    "x = { " + dotted(40_000) + " = 1 }\n",
  ]

  /// A dotted key or table header of tens of thousands of parts used to overflow the parser's stack (a
  /// SIGSEGV on SIGHUP and at every start): it is refused before parsing, naming the line.
  @Test(arguments: 0..<3)
  func aKeyOfTooManyPartsIsRefusedBeforeParsing(_ index: Int) throws {
    let text = Self.deepKeys[index]
    let layout = try Layout()
    defer { layout.cleanUp() }
    try layout.writeMain("")
    try layout.writeDropIn("50-deep.toml", text)
    let error = try #require(layout.failure())
    #expect(error.source == layout.dropIns + "/50-deep.toml")
    #expect(error.line == (text.hasPrefix("x = 1\n") ? 2 : 1))
    #expect(error.message.contains("more than 64 dot-separated parts"), "\(error)")
  }

  @Test func keysOfUpToSixtyFourPartsAndFloatsAndTimesPass() throws {
    let deep = Array(repeating: "a", count: 64).joined(separator: ".")
    #expect(throws: Never.self) {
      _ = try ConfigLoader.parse("[log]\nlevel = \"info\"\n", source: "plain.toml")
    }
    // Past the pre-check (64 parts), the key is refused for what it is: unknown.
    do {
      _ = try ConfigLoader.parse("\(deep) = 1.5\n", source: "deep.toml")
      Issue.record("accepted")
    } catch {
      #expect(!error.message.contains("dot-separated"), "\(error)")
    }
    #expect(overlongKeyLine("t = 1979-05-27T07:32:00.999\nf = 3.25\ns = \"a.b.c.d.e\"\n") == nil)
  }

  /// toml++ stops at a NUL, so everything after it (unknown keys, bad values) used to be skipped unseen.
  @Test func aNULByteIsRefusedWithItsLine() throws {
    let layout = try Layout()
    defer { layout.cleanUp() }
    try layout.writeMain("")
    let bytes = Array("[log]\nlevel = \"info\"\n".utf8) + [0] + Array("\nbogus = 1\n".utf8)
    try Data(bytes).write(to: URL(fileURLWithPath: layout.dropIns + "/10-nul.toml"))
    let error = try #require(layout.failure())
    #expect(error.source == layout.dropIns + "/10-nul.toml")
    #expect(error.line == 3)
    #expect(error.message.contains("NUL"))
  }

  @Test func invalidUTF8IsRefusedNotReplaced() throws {
    let layout = try Layout()
    defer { layout.cleanUp() }
    try layout.writeMain("")
    let bytes = Array("[log]\nlevel = \"de".utf8) + [0xFF] + Array("bug\"\n".utf8)
    try Data(bytes).write(to: URL(fileURLWithPath: layout.dropIns + "/10-latin.toml"))
    let error = try #require(layout.failure())
    #expect(error.source == layout.dropIns + "/10-latin.toml")
    #expect(error.message.contains("not valid UTF-8"))
  }

  /// A FIFO as the main file used to block the reload thread in open() forever (and with it shutdown).
  @Test func aFIFOAsTheMainFileIsRefusedAtOnce() throws {
    let layout = try Layout()
    defer { layout.cleanUp() }
    #expect(mkfifo(layout.main, 0o600) == 0)
    let error = try #require(layout.failure())
    #expect(error.source == layout.main)
    #expect(error.message.contains("not a regular file"))
  }
}

private func overlongKeyLine(_ text: String) -> Int? {
  do {
    _ = try ConfigLoader.parse(text, source: "values.toml")
    return nil
  } catch {
    return error.message.contains("dot-separated") ? error.line : nil
  }
}
