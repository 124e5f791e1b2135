/// A fully-qualified CDI device name, `vendor/class=name` (e.g. `vendor.com/gpu=0`), and the syntax rules of
/// its parts: ASCII letters and digits with `_`, `-` and `.` in the vendor (domain-like) and class, also `:`
/// in the device name; vendor and class start with a letter, every part ends with a letter or digit.
public struct CDIName: Sendable, Hashable, Comparable, CustomStringConvertible {
  public let vendor: String
  public let `class`: String
  public let device: String

  /// Longest part accepted (a DNS name's length): names are looked up, never stored unbounded.
  public static let maxPartLength = 253

  public init(vendor: String, class: String, device: String) {
    self.vendor = vendor
    self.class = `class`
    self.device = device
  }

  /// `vendor/class`, the kind a spec file declares.
  public var kind: String { vendor + "/" + `class` }
  public var description: String { kind + "=" + device }

  public static func < (lhs: CDIName, rhs: CDIName) -> Bool { lhs.description < rhs.description }

  /// Parses `vendor/class=name`; the error says which part is wrong and why.
  public static func parse(_ text: String) -> Result<CDIName, CDINameError> {
    guard let equals = text.firstIndex(of: "=") else {
      return .failure(.init("\"\(text)\" is not a fully-qualified CDI device name (vendor/class=name): no '='"))
    }
    let device = String(text[text.index(after: equals)...])
    switch parseKind(String(text[..<equals])) {
    case .failure(let error): return .failure(.init("\"\(text)\": \(error.message)"))
    case .success(let (vendor, `class`)):
      if let problem = deviceProblem(device, allowLeadingDigit: true) {
        return .failure(.init("\"\(text)\": device name \(problem)"))
      }
      return .success(CDIName(vendor: vendor, class: `class`, device: device))
    }
  }

  /// Splits and checks a spec's `kind`, `vendor/class`.
  public static func parseKind(_ kind: String) -> Result<(vendor: String, class: String), CDINameError> {
    guard let slash = kind.firstIndex(of: "/") else {
      return .failure(.init("kind \"\(kind)\" is not vendor/class: no '/'"))
    }
    let vendor = String(kind[..<slash])
    let `class` = String(kind[kind.index(after: slash)...])
    if let problem = qualifierProblem(vendor) { return .failure(.init("vendor \(problem)")) }
    if let problem = qualifierProblem(`class`) { return .failure(.init("class \(problem)")) }
    return .success((vendor, `class`))
  }

  /// Why a vendor or class name is invalid, or nil.
  static func qualifierProblem(_ name: String) -> String? {
    let bytes = Array(name.utf8)
    guard let first = bytes.first, let last = bytes.last else { return "is empty" }
    guard bytes.count <= maxPartLength else { return "is longer than \(maxPartLength) bytes" }
    guard isLetter(first) else { return "\"\(name)\" must start with a letter" }
    guard isAlphanumeric(last) else { return "\"\(name)\" must end with a letter or digit" }
    if let bad = bytes.first(where: { !isAlphanumeric($0) && $0 != UInt8(ascii: "_") && $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: ".") }) {
      return "\"\(name)\" has an invalid character \(describe(bad)) (letters, digits, '_', '-', '.')"
    }
    return nil
  }

  /// Why a device name is invalid, or nil. Before spec 0.5.0 a device name had to start with a letter.
  static func deviceProblem(_ name: String, allowLeadingDigit: Bool) -> String? {
    let bytes = Array(name.utf8)
    guard let first = bytes.first, let last = bytes.last else { return "is empty" }
    guard bytes.count <= maxPartLength else { return "is longer than \(maxPartLength) bytes" }
    guard allowLeadingDigit ? isAlphanumeric(first) : isLetter(first) else {
      return "\"\(name)\" must start with a letter\(allowLeadingDigit ? " or digit" : "")"
    }
    guard isAlphanumeric(last) else { return "\"\(name)\" must end with a letter or digit" }
    let extra: [UInt8] = [UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":")]
    if let bad = bytes.first(where: { !isAlphanumeric($0) && !extra.contains($0) }) {
      return "\"\(name)\" has an invalid character \(describe(bad)) (letters, digits, '_', '-', '.', ':')"
    }
    return nil
  }

  static func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
  static func isAlphanumeric(_ byte: UInt8) -> Bool { isLetter(byte) || (0x30...0x39).contains(byte) }
  private static func describe(_ byte: UInt8) -> String {
    (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
  }
}
