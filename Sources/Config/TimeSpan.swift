/// A length of time written the way containerd and Go write them (`"4h0m0s"`, `"1m"`, `"500ms"`), so
/// settings copied from a containerd config keep their meaning.
public struct TimeSpan: Sendable, Equatable, Hashable, Comparable, Encodable, CustomStringConvertible {
  public var nanoseconds: Int64

  public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

  public static func seconds(_ value: Int64) -> TimeSpan { TimeSpan(nanoseconds: value * 1_000_000_000) }
  public static func milliseconds(_ value: Int64) -> TimeSpan { TimeSpan(nanoseconds: value * 1_000_000) }

  public var duration: Duration { .nanoseconds(nanoseconds) }

  public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

  private static let units: [(String, Int64)] = [
    ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
    ("m", 60_000_000_000), ("h", 3_600_000_000_000),
  ]

  /// Parses a Go duration string: a sequence of decimal numbers, each with a unit (`ns`, `us`, `ms`, `s`,
  /// `m`, `h`), e.g. `"1h30m"`, `"2.5s"`. `"0"` alone is zero. Negative spans are refused: no setting here
  /// means anything by them.
  public init?(parsing text: String) {
    if text == "0" {
      self.nanoseconds = 0
      return
    }
    var rest = Substring(text)
    var total: Double = 0
    guard !rest.isEmpty else { return nil }
    while !rest.isEmpty {
      let number = rest.prefix { $0.isNumber || $0 == "." }
      guard !number.isEmpty, let value = Double(number) else { return nil }
      rest = rest.dropFirst(number.count)
      let unitText = rest.prefix { !($0.isNumber || $0 == ".") }
      guard let unit = Self.units.first(where: { $0.0 == unitText }) else { return nil }
      rest = rest.dropFirst(unitText.count)
      total += value * Double(unit.1)
    }
    guard total < Double(Int64.max) else { return nil }
    self.nanoseconds = Int64(total)
  }

  /// Go's formatting: `"4h0m0s"`, `"1m0s"`, `"1.5s"`, `"300ms"`, `"0s"`.
  public var description: String {
    let ns = nanoseconds
    if ns == 0 { return "0s" }
    if ns < 1_000_000_000 {
      if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
      if ns % 1_000 == 0 { return "\(ns / 1_000)µs" }
      return "\(ns)ns"
    }
    let hours = ns / 3_600_000_000_000
    let minutes = (ns / 60_000_000_000) % 60
    let secondsNs = ns % 60_000_000_000
    var seconds = "\(secondsNs / 1_000_000_000)"
    var fraction = secondsNs % 1_000_000_000
    if fraction != 0 {
      var digits = String(fraction)
      digits = String(repeating: "0", count: 9 - digits.count) + digits
      while digits.hasSuffix("0") { digits.removeLast() }
      seconds += "." + digits
      fraction = 0
    }
    if hours > 0 { return "\(hours)h\(minutes)m\(seconds)s" }
    if minutes > 0 { return "\(minutes)m\(seconds)s" }
    return "\(seconds)s"
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
