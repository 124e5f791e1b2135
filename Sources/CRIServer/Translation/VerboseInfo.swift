/// The JSON document of a verbose status (`info["info"]`, what `crictl inspect`/`inspectp`/`inspecti` print),
/// written directly as bytes.
///
/// The documents embed JSON crisp already holds as text (the OCI runtime spec it wrote, the image config it
/// verified at pull): parsing those with Foundation only to serialise them again was most of a verbose
/// status call. Keys are written in sorted order so the output is stable.
struct VerboseInfo {
  enum Value {
    case string(String)
    case integer(Int64)
    /// A JSON document crisp wrote or verified itself; embedded as is when it is one object or array,
    /// otherwise as `null` (a damaged file must not make the whole document unreadable).
    case document([UInt8])
    case object(VerboseInfo)
    case array([VerboseInfo])
  }

  private var fields: [(key: String, value: Value)] = []

  subscript(key: String) -> Value? {
    get { fields.first { $0.key == key }?.value }
    set {
      fields.removeAll { $0.key == key }
      if let newValue { fields.append((key, newValue)) }
    }
  }

  var text: String {
    var out: [UInt8] = []
    write(to: &out)
    return String(decoding: out, as: UTF8.self)
  }

  private func write(to out: inout [UInt8]) {
    out.append(UInt8(ascii: "{"))
    for (index, field) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
      if index > 0 { out.append(UInt8(ascii: ",")) }
      Self.writeString(field.key, to: &out)
      out.append(UInt8(ascii: ":"))
      Self.write(field.value, to: &out)
    }
    out.append(UInt8(ascii: "}"))
  }

  private static func write(_ value: Value, to out: inout [UInt8]) {
    switch value {
    case .string(let text): writeString(text, to: &out)
    case .integer(let number): out.append(contentsOf: String(number).utf8)
    case .document(let bytes):
      if let body = enclosedDocument(bytes) { out.append(contentsOf: body) } else { out.append(contentsOf: "null".utf8) }
    case .object(let object): object.write(to: &out)
    case .array(let items):
      out.append(UInt8(ascii: "["))
      for (index, item) in items.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        item.write(to: &out)
      }
      out.append(UInt8(ascii: "]"))
    }
  }

  /// `bytes` without surrounding whitespace when they are one brace- or bracket-enclosed JSON value with
  /// balanced nesting outside strings and valid UTF-8; nil otherwise. Not a full validation: the documents
  /// embedded here were written or verified by crisp, and this only guards against a truncated or damaged
  /// file breaking the surrounding JSON.
  static func enclosedDocument(_ bytes: [UInt8]) -> ArraySlice<UInt8>? {
    let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
    guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }),
      first < last
    else { return nil }
    let body = bytes[first...last]
    guard let opening = body.first, opening == UInt8(ascii: "{") || opening == UInt8(ascii: "[") else { return nil }
    var depth = 0
    var inString = false
    var escaped = false
    for (offset, byte) in body.enumerated() {
      if inString {
        if escaped {
          escaped = false
        } else if byte == UInt8(ascii: "\\") {
          escaped = true
        } else if byte == UInt8(ascii: "\"") {
          inString = false
        } else if byte < 0x20 {
          return nil
        }
        continue
      }
      switch byte {
      case UInt8(ascii: "\""): inString = true
      case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
      case UInt8(ascii: "}"), UInt8(ascii: "]"):
        depth -= 1
        // The outermost value closes only at the very end.
        if depth < 0 || (depth == 0 && offset != body.count - 1) { return nil }
      default: break
      }
    }
    guard depth == 0, !inString, String(validating: body, as: UTF8.self) != nil else { return nil }
    return body
  }

  static func writeString(_ text: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
      case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
      case 0x0A: out.append(contentsOf: #"\n"#.utf8)
      case 0x0D: out.append(contentsOf: #"\r"#.utf8)
      case 0x09: out.append(contentsOf: #"\t"#.utf8)
      case 0..<0x20:
        let hex = Array("0123456789abcdef".utf8)
        out.append(contentsOf: #"\u00"#.utf8)
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0x0F)])
      default: out.append(byte)
      }
    }
    out.append(UInt8(ascii: "\""))
  }
}
