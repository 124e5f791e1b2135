import Foundation

/// A JSON number kept as the text it was written as: plugin configurations and results pass through crisp
/// to plugins, and a Double would turn an integer past 2^53 into another integer and `1.0` into `1`.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
  /// The literal, always a valid JSON number (RFC 8259 `number`).
  public let text: String

  /// nil unless `text` is exactly a JSON number (no spaces, no leading `+`, no leading zeros, no `NaN`).
  public init?(text: String) {
    guard JSONNumber.isValid(Array(text.utf8)) else { return nil }
    self.text = text
  }

  public init(_ value: some BinaryInteger) {
    text = String(value)
  }

  /// A finite Double in its shortest round-tripping form; NaN and infinities (not JSON) become 0.
  public init(double value: Double) {
    text = value.isFinite ? (JSONNumber(text: "\(value)")?.text ?? "0") : "0"
  }

  init(validated text: String) {
    self.text = text
  }

  public var description: String { text }

  /// The value when it is an integer that fits `Int` (`8080`, also `8080.0` or `8.08e3`).
  public var int: Int? {
    if let value = Int(text) { return value }
    guard let double = Double(text), double.rounded() == double, abs(double) < 9.0e15 else { return nil }
    return Int(exactly: double)
  }

  public var double: Double? { Double(text) }

  /// RFC 8259: `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`.
  static func isValid(_ bytes: [UInt8]) -> Bool {
    var index = 0
    func digits() -> Int {
      let start = index
      while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
      return index - start
    }
    if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
    guard index < bytes.count else { return false }
    if bytes[index] == UInt8(ascii: "0") {
      index += 1
    } else if digits() == 0 {
      return false
    }
    if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
      index += 1
      guard digits() > 0 else { return false }
    }
    if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
      index += 1
      if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
      guard digits() > 0 else { return false }
    }
    return index == bytes.count
  }
}

extension JSONNumber: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
  public init(integerLiteral value: Int) { self.init(value) }
  public init(floatLiteral value: Double) { self.init(double: value) }
}

/// A JSON document kept as data, so plugin configurations and results pass through crisp unchanged (CNI
/// plugins define their own keys; crisp only adds `name`, `cniVersion`, `prevResult` and `runtimeConfig`).
/// `parse` and `bytes` are crisp's own reader and writer: numbers keep their text and nesting is bounded
/// (plugin output is untrusted bytes).
public enum JSONValue: Sendable, Equatable, Codable {
  case null
  case bool(Bool)
  case number(JSONNumber)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  /// Deepest nesting `parse` accepts; deeper documents are refused rather than recursed into.
  public static let maximumDepth = 256

  /// Through a `Decoder` (a value embedded in a Codable record) a number's text is not visible: integers
  /// are read exactly (64 bits), other numbers as their shortest round-tripping Double text.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? container.decode(Int64.self) {
      self = .number(JSONNumber(value))
    } else if let value = try? container.decode(UInt64.self) {
      self = .number(JSONNumber(value))
    } else if let value = try? container.decode(Double.self) {
      self = .number(JSONNumber(double: value))
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode([JSONValue].self) {
      self = .array(value)
    } else {
      self = .object(try container.decode([String: JSONValue].self))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .null: try container.encodeNil()
    case .bool(let value): try container.encode(value)
    case .number(let value):
      if let int = Int64(value.text) {
        try container.encode(int)
      } else if let int = UInt64(value.text) {
        try container.encode(int)
      } else if let decimal = Decimal(string: value.text, locale: Locale(identifier: "en_US_POSIX")) {
        try container.encode(decimal)
      } else {
        try container.encode(value.double ?? 0)
      }
    case .string(let value): try container.encode(value)
    case .array(let value): try container.encode(value)
    case .object(let value): try container.encode(value)
    }
  }

  /// Parses a JSON document; `nil` when the bytes are not JSON (or nest deeper than `maximumDepth`).
  public static func parse(_ bytes: [UInt8]) -> JSONValue? {
    var reader = JSONReader(bytes: bytes)
    guard let value = reader.document() else { return nil }
    return value
  }

  /// The compact encoding, keys sorted (stable for caches and tests); numbers exactly as read.
  public var bytes: [UInt8] {
    var out: [UInt8] = []
    JSONWriter.write(self, into: &out)
    return out
  }

  public subscript(key: String) -> JSONValue? {
    get {
      if case .object(let object) = self { return object[key] }
      return nil
    }
    set {
      guard case .object(var object) = self else { return }
      object[key] = newValue
      self = .object(object)
    }
  }

  public var string: String? {
    if case .string(let value) = self { return value }
    return nil
  }
  public var array: [JSONValue]? {
    if case .array(let value) = self { return value }
    return nil
  }
  public var object: [String: JSONValue]? {
    if case .object(let value) = self { return value }
    return nil
  }
  public var bool: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }
  public var int: Int? {
    if case .number(let value) = self { return value.int }
    return nil
  }
}

/// RFC 8259 reader over bytes. Iterative over containers (an explicit stack), so hostile nesting cannot
/// overflow crisp's stack; strings must be valid UTF-8.
struct JSONReader {
  let bytes: [UInt8]
  var index = 0

  init(bytes: [UInt8]) {
    self.bytes = bytes
  }

  private enum Frame {
    case array([JSONValue])
    case object([String: JSONValue], key: String)
  }

  mutating func document() -> JSONValue? {
    var stack: [Frame] = []
    skipSpace()
    while true {
      // Read one value (a scalar, or open a container and continue with its first element).
      var value: JSONValue
      guard index < bytes.count else { return nil }
      switch bytes[index] {
      case UInt8(ascii: "["):
        index += 1
        guard stack.count < JSONValue.maximumDepth else { return nil }
        skipSpace()
        if peek(UInt8(ascii: "]")) {
          index += 1
          value = .array([])
        } else {
          stack.append(.array([]))
          continue
        }
      case UInt8(ascii: "{"):
        index += 1
        guard stack.count < JSONValue.maximumDepth else { return nil }
        skipSpace()
        if peek(UInt8(ascii: "}")) {
          index += 1
          value = .object([:])
        } else {
          guard let key = objectKey() else { return nil }
          stack.append(.object([:], key: key))
          continue
        }
      default:
        guard let scalar = scalar() else { return nil }
        value = scalar
      }
      // Hand the value to its container; close containers that end here.
      while true {
        skipSpace()
        guard let top = stack.popLast() else {
          return index == bytes.count ? value : nil
        }
        switch top {
        case .array(var elements):
          elements.append(value)
          guard index < bytes.count else { return nil }
          if bytes[index] == UInt8(ascii: ",") {
            index += 1
            skipSpace()
            stack.append(.array(elements))
          } else if bytes[index] == UInt8(ascii: "]") {
            index += 1
            value = .array(elements)
            continue
          } else {
            return nil
          }
        case .object(var members, let key):
          members[key] = value
          guard index < bytes.count else { return nil }
          if bytes[index] == UInt8(ascii: ",") {
            index += 1
            skipSpace()
            guard let next = objectKey() else { return nil }
            stack.append(.object(members, key: next))
          } else if bytes[index] == UInt8(ascii: "}") {
            index += 1
            value = .object(members)
            continue
          } else {
            return nil
          }
        }
        break
      }
      skipSpace()
    }
  }

  private func peek(_ byte: UInt8) -> Bool { index < bytes.count && bytes[index] == byte }

  private mutating func skipSpace() {
    while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
  }

  /// `"key"` then `:`, leaving the index at the value.
  private mutating func objectKey() -> String? {
    guard peek(UInt8(ascii: "\"")), let key = string() else { return nil }
    skipSpace()
    guard peek(UInt8(ascii: ":")) else { return nil }
    index += 1
    skipSpace()
    return key
  }

  private mutating func literal(_ word: String) -> Bool {
    let expected = Array(word.utf8)
    guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected else { return false }
    index += expected.count
    return true
  }

  private mutating func scalar() -> JSONValue? {
    guard index < bytes.count else { return nil }
    switch bytes[index] {
    case UInt8(ascii: "n"): return literal("null") ? .null : nil
    case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
    case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
    case UInt8(ascii: "\""): return string().map(JSONValue.string)
    default:
      let start = index
      while index < bytes.count, JSONReader.numberBytes.contains(bytes[index]) { index += 1 }
      let text = Array(bytes[start..<index])
      guard JSONNumber.isValid(text) else { return nil }
      return .number(JSONNumber(validated: String(decoding: text, as: UTF8.self)))
    }
  }

  private static let numberBytes = Set(Array("0123456789+-.eE".utf8))

  private mutating func hex4() -> UInt32? {
    guard bytes.count - index >= 4 else { return nil }
    var value: UInt32 = 0
    for byte in bytes[index..<index + 4] {
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: return nil
      }
      value = value << 4 | UInt32(digit)
    }
    index += 4
    return value
  }

  /// A string at `index` (on its opening quote); nil for bad escapes, control characters, lone
  /// surrogates or bytes that are not UTF-8.
  private mutating func string() -> String? {
    index += 1
    var out: [UInt8] = []
    while index < bytes.count {
      let byte = bytes[index]
      index += 1
      switch byte {
      case UInt8(ascii: "\""):
        return String(validating: out, as: UTF8.self)
      case UInt8(ascii: "\\"):
        guard index < bytes.count else { return nil }
        let escape = bytes[index]
        index += 1
        switch escape {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
          guard var code = hex4() else { return nil }
          if code >= 0xD800, code < 0xDC00 {
            guard literal("\\u"), let low = hex4(), low >= 0xDC00, low < 0xE000 else { return nil }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
          } else if code >= 0xDC00, code < 0xE000 {
            return nil
          }
          guard let scalar = Unicode.Scalar(code) else { return nil }
          out.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
          return nil
        }
      case 0..<0x20:
        return nil
      default:
        out.append(byte)
      }
    }
    return nil
  }
}

/// Compact JSON with sorted keys, slashes unescaped; numbers as their text.
enum JSONWriter {
  private enum Step {
    case value(JSONValue)
    case raw([UInt8])
  }

  /// Iterative, as the reader: a document built in code is as deep as one read.
  static func write(_ root: JSONValue, into out: inout [UInt8]) {
    var work: [Step] = [.value(root)]
    while let step = work.popLast() {
      switch step {
      case .raw(let bytes):
        out.append(contentsOf: bytes)
      case .value(let value):
        switch value {
        case .null: out.append(contentsOf: Array("null".utf8))
        case .bool(let flag): out.append(contentsOf: Array((flag ? "true" : "false").utf8))
        case .number(let number): out.append(contentsOf: Array(number.text.utf8))
        case .string(let text): string(text, into: &out)
        case .array(let elements):
          out.append(UInt8(ascii: "["))
          var steps: [Step] = []
          for (position, element) in elements.enumerated() {
            if position > 0 { steps.append(.raw([UInt8(ascii: ",")])) }
            steps.append(.value(element))
          }
          steps.append(.raw([UInt8(ascii: "]")]))
          work.append(contentsOf: steps.reversed())
        case .object(let members):
          out.append(UInt8(ascii: "{"))
          var steps: [Step] = []
          for (position, key) in members.keys.sorted().enumerated() {
            var prefix: [UInt8] = position > 0 ? [UInt8(ascii: ",")] : []
            string(key, into: &prefix)
            prefix.append(UInt8(ascii: ":"))
            steps.append(.raw(prefix))
            if let member = members[key] { steps.append(.value(member)) }
          }
          steps.append(.raw([UInt8(ascii: "}")]))
          work.append(contentsOf: steps.reversed())
        }
      }
    }
  }

  static func string(_ text: String, into out: inout [UInt8]) {
    let hex = Array("0123456789abcdef".utf8)
    out.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
      case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
      case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
      case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
      case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
      case 0..<0x20:
        out.append(contentsOf: Array("\\u00".utf8))
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0x0F)])
      default: out.append(byte)
      }
    }
    out.append(UInt8(ascii: "\""))
  }
}
