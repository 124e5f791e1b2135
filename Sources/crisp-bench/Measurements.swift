import Foundation

/// Samples of one operation on one endpoint.
struct Samples: Codable {
  var values: [Double] = []
  var unit: String
  /// Set when the endpoint could not do the operation at all (e.g. UNIMPLEMENTED), with its answer.
  var unsupported: String?

  init(unit: String) { self.unit = unit }

  var sorted: [Double] { values.sorted() }
  var min: Double? { sorted.first }
  var max: Double? { sorted.last }
  var median: Double? {
    let s = sorted
    guard !s.isEmpty else { return nil }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
  }
  var p95: Double? { quantile(0.95) }
  var p99: Double? { quantile(0.99) }

  /// The nearest-rank quantile `q` (0 < q ≤ 1).
  func quantile(_ q: Double) -> Double? {
    let s = sorted
    guard !s.isEmpty else { return nil }
    return s[Swift.max(0, Swift.min(s.count - 1, Int((Double(s.count) * q).rounded(.up)) - 1))]
  }

  enum CodingKeys: String, CodingKey { case values, unit, unsupported, min, median, p95, p99, max }

  init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    values = try container.decode([Double].self, forKey: .values)
    unit = try container.decode(String.self, forKey: .unit)
    unsupported = try container.decodeIfPresent(String.self, forKey: .unsupported)
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(values, forKey: .values)
    try container.encode(unit, forKey: .unit)
    try container.encodeIfPresent(unsupported, forKey: .unsupported)
    try container.encodeIfPresent(min, forKey: .min)
    try container.encodeIfPresent(median, forKey: .median)
    try container.encodeIfPresent(p95, forKey: .p95)
    try container.encodeIfPresent(p99, forKey: .p99)
    try container.encodeIfPresent(max, forKey: .max)
  }
}

/// One measured operation across the endpoints (or the two sides of an in-process comparison).
struct Measurement: Codable {
  var operation: String
  /// The two sides compared in this row, in column order (endpoints, or crisp and a reference tool).
  var sides: [String]
  /// `lower` when smaller is better (times, memory), `higher` for rates.
  var better: String
  var results: [String: Samples]
  /// The first side's median divided by the second's.
  var ratio: Double?
  /// The issue's target for the ratio, e.g. "≤ 0.6", printed next to it.
  var target: String?
  /// "p99" when the row shows min / p50 / p99 / max rather than min / median / p95 / max.
  var tail: String?
  /// Context printed after the ratio (e.g. the first error messages, or what was left behind).
  var detail: String?
}

/// Accumulates measurements and prints them as a Markdown table and JSON.
final class Report: @unchecked Sendable {
  var measurements: [Measurement] = []
  let sides: [String]

  init(sides: [String]) { self.sides = sides }

  func add(
    _ operation: String, better: String = "lower", target: String? = nil, sides rowSides: [String]? = nil, tail: String? = nil,
    detail: String? = nil, _ results: [String: Samples]
  ) {
    let order = rowSides ?? sides
    var ratio: Double?
    if order.count == 2, let a = results[order[0]]?.median, let b = results[order[1]]?.median, b > 0 { ratio = a / b }
    measurements.append(
      Measurement(operation: operation, sides: order, better: better, results: results, ratio: ratio, target: target, tail: tail, detail: detail))
    emit(row(measurements[measurements.count - 1]))
  }

  static func format(_ value: Double?, _ unit: String) -> String {
    guard let value else { return "-" }
    switch unit {
    case "s":
      if value < 1e-3 { return String(format: "%.0fµs", value * 1e6) }
      if value < 1 { return String(format: "%.1fms", value * 1e3) }
      return String(format: "%.2fs", value)
    case "B":
      if value >= 1e6 { return String(format: "%.1fMB", value / 1e6) }
      return String(format: "%.0fkB", value / 1e3)
    case "B/s":
      return String(format: "%.0fMB/s", value / 1e6)
    case "%":
      return String(format: "%.2f%%", value)
    case "":
      return String(format: "%.0f", value)
    default:
      return String(format: "%.3g%@", value, unit)
    }
  }

  var header: String {
    "| operation | first: min / median / p95 / max | second: min / median / p95 / max | ratio (first ÷ second) |\n|---|---|---|---|"
  }

  func row(_ m: Measurement) -> String {
    let p99 = m.tail == "p99"
    var cells = [p99 ? m.operation + " [min / p50 / p99 / max]" : m.operation]
    for side in m.sides {
      guard let samples = m.results[side] else {
        cells.append("\(side): -")
        continue
      }
      if let unsupported = samples.unsupported {
        cells.append("\(side): unsupported: \(unsupported.prefix(80))")
        continue
      }
      cells.append(
        "\(side): "
          + [samples.min, samples.median, p99 ? samples.p99 : samples.p95, samples.max].map { Self.format($0, samples.unit) }.joined(separator: " / ")
      )
    }
    var ratio = m.ratio.map { String(format: "%.2f", $0) } ?? "-"
    if let target = m.target { ratio += " (target \(target))" }
    if let detail = m.detail {
      let flat = detail.map { $0 == "|" ? "/" : $0.isNewline ? " " : $0 }
      ratio += " — " + String(flat.prefix(600))
    }
    while cells.count < 3 { cells.append("-") }
    cells.append(ratio)
    return "| " + cells.joined(separator: " | ") + " |"
  }

  var markdown: String { ([header] + measurements.map(row)).joined(separator: "\n") + "\n" }

  func json() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(["sides": sides.map { .init($0) }, "measurements": measurements.map { .init($0) }] as [String: [AnyEncodable]])
  }
}

struct AnyEncodable: Encodable {
  let value: any Encodable
  init(_ value: any Encodable) { self.value = value }
  func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

/// Wall-clock seconds of `body`.
func time(_ body: () async throws -> Void) async rethrows -> Double {
  let start = ContinuousClock.now
  try await body()
  let elapsed = ContinuousClock.now - start
  return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// Writes a line to standard output unbuffered, so rows appear as they are measured even into a file.
func emit(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
