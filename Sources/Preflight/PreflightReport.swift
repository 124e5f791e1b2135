import Foundation

/// How `crisp check` prints its results: one aligned line per check, or a JSON array; and its exit status.
public enum PreflightReport {
  /// `ok    kernel.overlayfs  found …`, with `  → remedy` on the same line when not ok.
  public static func text(_ results: [PreflightResult]) -> String {
    let width = results.map(\.check.count).max() ?? 0
    var out = ""
    for result in results {
      let status = result.status.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)
      let name = result.check.padding(toLength: width, withPad: " ", startingAt: 0)
      out += "\(status) \(name)  \(result.message)"
      if !result.remedy.isEmpty { out += " — \(result.remedy)" }
      out += "\n"
    }
    return out
  }

  /// A JSON array of `{check, status, message, remedy}`, in check order.
  public static func json(_ results: [PreflightResult]) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(results) else { return "[]\n" }
    return String(decoding: data, as: UTF8.self) + "\n"
  }

  /// 1 when any check failed, else 0 (warnings do not fail an install).
  public static func exitStatus(_ results: [PreflightResult]) -> Int32 {
    results.contains { $0.status == .fail } ? 1 : 0
  }
}
