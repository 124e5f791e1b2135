import Foundation

/// The `ips` column of a sandbox record: a JSON array of address strings. Read on every sandbox record
/// fetched, so the plain form crisp writes (`["10.0.0.2","fd00::2"]`, no escapes) is split directly; anything
/// else goes through the JSON parser.
enum IPList {
  static func decode(_ text: String) -> [String] {
    let bytes = Array(text.utf8)
    guard bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]") else { return parsed(text) }
    let body = bytes.dropFirst().dropLast()
    if body.isEmpty { return [] }
    var result: [String] = []
    for item in body.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
      // Only quoted items made of address characters: anything else (escapes, spaces, nesting) is parsed.
      guard item.count >= 2, item.first == UInt8(ascii: "\""), item.last == UInt8(ascii: "\"") else { return parsed(text) }
      let inner = item.dropFirst().dropLast()
      guard inner.allSatisfy(isAddressByte), let address = String(validating: inner, as: UTF8.self) else { return parsed(text) }
      result.append(address)
    }
    return result
  }

  private static func isAddressByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"),
      UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "%"), UInt8(ascii: "/"):
      return true
    default:
      return false
    }
  }

  private static func parsed(_ text: String) -> [String] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String] ?? []
  }
}
