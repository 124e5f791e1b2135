public import CrispCore

/// A content digest, `algorithm:hex`. crisp verifies and stores sha256 only (the algorithm every registry
/// and image builder uses); other algorithms are refused by name rather than fetched unverified.
public struct Digest: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
  public let algorithm: String
  public let hex: String

  public init(parsing text: String) throws(CrispError) {
    guard let colon = text.firstIndex(of: ":") else {
      throw CrispError.invalidArgument("digest \"\(text)\": expected algorithm:hex")
    }
    let algorithm = String(text[..<colon])
    let hex = String(text[text.index(after: colon)...])
    guard algorithm == "sha256" else {
      throw CrispError.invalidArgument("digest \"\(text)\": algorithm \"\(algorithm)\" is not supported (sha256 only)")
    }
    guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
      throw CrispError.invalidArgument("digest \"\(text)\": a sha256 digest is 64 lowercase hex digits")
    }
    self.algorithm = algorithm
    self.hex = hex
  }

  /// The registered OCI digest algorithms and the length of their lowercase hex encoding.
  public static let encodedLengths: [String: Int] = ["sha256": 64, "sha512": 128]

  /// Whether `algorithm:encoded` is a well-formed digest of a registered algorithm: sha256 with exactly 64,
  /// sha512 with exactly 128 lowercase hex digits. Names taken from input (an OCI layout's
  /// `blobs/<algorithm>/<encoded>`) pass this before they are used anywhere near a path.
  public static func isWellFormed(algorithm: String, encoded: String) -> Bool {
    guard let length = encodedLengths[algorithm] else { return false }
    return encoded.utf8.count == length && encoded.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
  }

  public init(sha256Hex: String) {
    algorithm = "sha256"
    hex = sha256Hex
  }

  public var description: String { "\(algorithm):\(hex)" }

  public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    do {
      self = try Digest(parsing: text)
    } catch {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
