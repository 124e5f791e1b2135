import Foundation
import Testing

@testable import CRIServer

/// The verbose status document is written by hand: it must stay valid JSON whatever the strings hold and
/// whatever state an embedded file is in.
@Suite struct VerboseInfoTests {
  func parsed(_ info: VerboseInfo) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(info.text.utf8)) as? [String: Any])
  }

  @Test func stringsWithQuotesControlsAndNonASCIIRoundTrip() throws {
    var info = VerboseInfo()
    let nasty = "a\"b\\c\n\r\t\u{01}\u{1f}é😀"
    info["s"] = .string(nasty)
    info["n"] = .integer(-42)
    info["max"] = .integer(Int64.max)
    let object = try parsed(info)
    #expect(object["s"] as? String == nasty)
    #expect(object["n"] as? Int == -42)
    #expect((object["max"] as? NSNumber)?.int64Value == Int64.max)
    #expect(info.text.hasPrefix(#"{"max":"#), "keys are sorted: \(info.text)")
  }

  @Test func aDocumentIsEmbeddedAsIs() throws {
    var info = VerboseInfo()
    info["spec"] = .document(Array("  {\"ociVersion\":\"1.2.0\",\"process\":{\"args\":[\"sh\",\"}]\"]}}\n".utf8))
    let spec = try #require(try parsed(info)["spec"] as? [String: Any])
    #expect(spec["ociVersion"] as? String == "1.2.0")
    #expect(((spec["process"] as? [String: Any])?["args"] as? [String]) == ["sh", "}]"])
  }

  @Test(arguments: [
    "", "   ", "{", "{\"a\":1", "{\"a\":\"}", "{} {}", "}{", "[1]]", "\"text\"", "42", "{\"a\":\"\u{01}\"}", "{\"a\":1}x",
  ])
  func aDamagedDocumentBecomesNull(_ text: String) throws {
    var info = VerboseInfo()
    info["spec"] = .document(Array(text.utf8))
    info["after"] = .string("still readable")
    let object = try parsed(info)
    #expect(object["spec"] is NSNull, "\(text)")
    #expect(object["after"] as? String == "still readable")
  }

  @Test func invalidUTF8InADocumentBecomesNull() throws {
    var info = VerboseInfo()
    info["spec"] = .document([
      UInt8(ascii: "{"), UInt8(ascii: "\""), 0xFF, UInt8(ascii: "\""), UInt8(ascii: ":"), UInt8(ascii: "1"), UInt8(ascii: "}"),
    ])
    #expect(try parsed(info)["spec"] is NSNull)
  }

  @Test func nestedObjectsAndArrays() throws {
    var inner = VerboseInfo()
    inner["name"] = .string("eth0")
    inner["rxBytes"] = .integer(10)
    var info = VerboseInfo()
    info["interfaces"] = .array([inner, inner])
    info["empty"] = .array([])
    info["object"] = .object(inner)
    let object = try parsed(info)
    #expect((object["interfaces"] as? [[String: Any]])?.count == 2)
    #expect((object["empty"] as? [Any])?.isEmpty == true)
    #expect((object["object"] as? [String: Any])?["name"] as? String == "eth0")
  }
}
