import Foundation
import CrispCore
@testable import PodNetwork
import Testing

/// Plugin configurations and results pass through crisp byte for byte in their numbers: a Double would
/// change integers past 2^53 and turn `1.0` into `1` on the way to the next plugin.
@Suite struct JSONValueTests {
  func roundTrip(_ text: String) -> String? {
    JSONValue.parse(Array(text.utf8)).map { String(decoding: $0.bytes, as: UTF8.self) }
  }

  @Test(arguments: [
    "9007199254740993", "18446744073709551616", "-9223372036854775809", "123456789012345678901234567890",
    "1.0", "0.10", "-0.0", "1e400", "1E+2", "2.5e-10", "0", "-1", "8080",
  ])
  func numbersKeepTheirText(number: String) {
    #expect(roundTrip(#"{"n":\#(number)}"#) == #"{"n":\#(number)}"#)
    #expect(roundTrip("[\(number)]") == "[\(number)]")
    #expect(roundTrip(number) == number)
  }

  @Test func documentsRoundTrip() {
    let text = #"{"a":[1,2.50,{"b":null,"c":true,"d":false}],"e":"x\"\\\n\t\u0001/é😀","f":{},"g":[]}"#
    #expect(roundTrip(text) == text)
    // Whitespace goes, keys are sorted, escapes normalized.
    #expect(roundTrip(" { \"z\" : 1 , \"a\" : [ ] } ") == #"{"a":[],"z":1}"#)
    #expect(roundTrip(#"["\u00e9\ud83d\ude00\/"]"#) == #"["é😀/"]"#)
  }

  @Test(arguments: [
    "", "01", "+1", "1.", ".5", "1e", "1e+", "-", "--1", "0x10", "NaN", "Infinity", "1 2", "[1,]", "{\"a\":1,}", "{\"a\"}",
    "[", "{", "\"abc", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "tru", "nul", "{1:2}", "[1]]", "\"\u{01}\"",
  ])
  func malformedIsRefused(text: String) {
    #expect(JSONValue.parse(Array(text.utf8)) == nil, "\(text)")
  }

  @Test func notUTF8IsRefused() {
    #expect(JSONValue.parse([0x22, 0xFF, 0x22]) == nil)
    #expect(JSONValue.parse([0x5B, 0xC3, 0x5D]) == nil)
  }

  /// Hostile nesting is refused, not recursed into, and writing a deep value built in code does not
  /// recurse either.
  @Test func nestingIsBounded() {
    let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    #expect(JSONValue.parse(Array(deep.utf8)) == nil)
    let allowed = String(repeating: "[", count: JSONValue.maximumDepth) + String(repeating: "]", count: JSONValue.maximumDepth)
    #expect(JSONValue.parse(Array(allowed.utf8)) != nil)
    var value = JSONValue.null
    for _ in 0..<5_000 { value = .array([value]) }
    #expect(value.bytes.count == 5_000 * 2 + 4)
  }

  @Test func numberValidation() {
    #expect(JSONNumber(text: "1.0")?.text == "1.0")
    #expect(JSONNumber(text: "1.") == nil)
    #expect(JSONNumber(text: " 1") == nil)
    #expect(JSONNumber(9_007_199_254_740_993 as Int64).text == "9007199254740993")
    #expect(JSONNumber(UInt64.max).text == "18446744073709551615")
    #expect(JSONNumber(double: .nan).text == "0")
    #expect(JSONNumber(text: "8.08e3")?.int == 8080)
    #expect(JSONNumber(text: "9223372036854775808")?.int == nil)
    #expect(JSONNumber(text: "1e400")?.int == nil)
  }

  /// The saved attachment (read by DEL after a restart) keeps the plugins' numbers too.
  @Test func attachmentKeepsNumbers() throws {
    let plugin = try #require(JSONValue.parse(Array(#"{"type":"x","big":9007199254740993,"ratio":1.0}"#.utf8)))
    let result = try #require(JSONValue.parse(Array(#"{"cniVersion":"1.0.0","n":18446744073709551616}"#.utf8)))
    let attachment = PodNetworkAttachment(
      containerID: "c", netns: "/n", args: [["K8S_POD_NAME", "p"]], runtimeConfig: .object(["mtu": .number(JSONNumber(1500))]),
      networks: [.init(name: "net", cniVersion: "1.0.0", ifName: "eth0", plugins: [plugin], attempted: 1, result: result)])
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-attach-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try attachment.write(directory + "/a.json")
    let read = try #require(try PodNetworkAttachment.read(directory + "/a.json"))
    #expect(read == attachment)
    #expect(String(decoding: read.networks[0].plugins[0].bytes, as: UTF8.self) == #"{"big":9007199254740993,"ratio":1.0,"type":"x"}"#)
    // A file written by the JSONEncoder of an earlier crisp still reads.
    let older =
      #"{"args":[["A","b"]],"containerID":"c","netns":"/n","networks":[{"attempted":2,"cniVersion":"0.4.0","ifName":"eth0","name":"n","plugins":[{"type":"bridge"}]}],"runtimeConfig":{}}"#
    try older.write(toFile: directory + "/b.json", atomically: true, encoding: .utf8)
    let old = try #require(try PodNetworkAttachment.read(directory + "/b.json"))
    // attempted is clamped to the plugins there are.
    #expect(old.networks.first?.attempted == 1 && old.networks.first?.result == nil && old.args == [["A", "b"]])
  }
}
