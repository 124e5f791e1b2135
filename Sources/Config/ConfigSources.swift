/// Which file set each value of a merged configuration, for `crisp config dump`.
///
/// Only keys written in some file have a source; a key without one is a built-in default.
public struct ConfigSources: Sendable, Equatable {
  private let files: [[String]: String]

  init(_ files: [[String]: String]) {
    self.files = files
  }

  /// No file set anything (the built-in defaults).
  public static let none = ConfigSources([:])

  /// The file that set the value at `path` (e.g. `["log", "level"]`), or nil when it is a default. A key
  /// inside an array (an element of `[[…]]`) answers with the array's file.
  public func file(of path: [String]) -> String? {
    var candidate = path
    while !candidate.isEmpty {
      if let file = files[candidate] { return file }
      candidate.removeLast()
    }
    return nil
  }
}
