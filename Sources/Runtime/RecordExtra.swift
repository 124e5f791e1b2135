import CrispCore
import Foundation

/// Runtime details a record keeps in its `extra` column, as JSON. Encoding throws instead of storing
/// nothing: a record without its extra would later lose what removal needs (its reserved name, its cgroup).
protocol RecordExtra: Codable, Sendable {}

extension RecordExtra {
  /// The column's bytes; an encoding failure names `object`.
  func encoded(for object: String) throws(CrispError) -> [UInt8] {
    do {
      return Array(try JSONEncoder().encode(self))
    } catch {
      throw CrispError(.internal, "\(object): encode its runtime details", cause: error)
    }
  }

  /// The details in `bytes`; nil for a record that has none yet (still being created) or unreadable ones.
  static func decoded(from bytes: [UInt8]) -> Self? {
    guard !bytes.isEmpty else { return nil }
    return try? JSONDecoder().decode(Self.self, from: Data(bytes))
  }
}
