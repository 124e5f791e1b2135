/// Finds the line on which each key of a TOML document is written.
///
/// The TOML parser tells us values and types but not where they came from, and an error that says
/// `cni.max_conf_num` without a line makes an operator hunt through a 200-line file. This is a light second
/// scan over the text: it follows table headers (`[a."b.c"]`, `[[a]]`) and `key =` lines (bare, quoted and
/// dotted keys), and steps over multi-line strings and arrays so their content is never mistaken for keys.
/// It also gives the order in which keys appear, which TOML tables do not keep.
public struct KeyLocator: Sendable {
  private var lines: [[String]: Int] = [:]

  public init(_ text: String) {
    var table: [String] = []
    var scanner = ValueScanner()
    for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let number = index + 1
      let line = Substring(rawLine)
      if scanner.isInsideValue {
        scanner.scan(line)
        continue
      }
      let trimmed = line.drop { $0 == " " || $0 == "\t" }
      if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
      if trimmed.hasPrefix("[") {
        let isArray = trimmed.hasPrefix("[[")
        var cursor = trimmed.dropFirst(isArray ? 2 : 1)
        if let path = Self.parseKey(&cursor, terminator: "]") {
          table = path
          record(path, number)
        }
        continue
      }
      var cursor = trimmed
      guard let key = Self.parseKey(&cursor, terminator: "="), cursor.first == "=" else { continue }
      record(table + key, number)
      scanner.scan(cursor.dropFirst())
    }
  }

  private mutating func record(_ path: [String], _ line: Int) {
    if lines[path] == nil { lines[path] = line }
  }

  /// The line of `path`, or of its nearest ancestor that has one (keys inside inline tables).
  public func line(of path: [String]) -> Int? {
    var candidate = path
    while !candidate.isEmpty {
      if let line = lines[candidate] { return line }
      candidate.removeLast()
    }
    return nil
  }

  /// Whether the document writes `prefix` itself or any key below it (not merely an ancestor).
  public func mentions(_ prefix: [String]) -> Bool {
    lines.keys.contains { $0.count >= prefix.count && $0.starts(with: prefix) }
  }

  /// Parses a (possibly dotted, possibly quoted) key up to `terminator`, leaving the cursor on it.
  static func parseKey(_ cursor: inout Substring, terminator: Character) -> [String]? {
    var parts: [String] = []
    while true {
      cursor = cursor.drop { $0 == " " || $0 == "\t" }
      guard let first = cursor.first else { return nil }
      if first == "\"" || first == "'" {
        cursor.removeFirst()
        var part = ""
        var closed = false
        while let c = cursor.popFirst() {
          if c == first { closed = true; break }
          if c == "\\" && first == "\"", let escaped = cursor.popFirst() {
            switch escaped {
            case "n": part.append("\n")
            case "t": part.append("\t")
            default: part.append(escaped)
            }
            continue
          }
          part.append(c)
        }
        guard closed else { return nil }
        parts.append(part)
      } else {
        let bare = cursor.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
        guard !bare.isEmpty else { return nil }
        parts.append(String(bare))
        cursor = cursor.dropFirst(bare.count)
      }
      cursor = cursor.drop { $0 == " " || $0 == "\t" }
      if cursor.first == "." {
        cursor.removeFirst()
        continue
      }
      return cursor.first == terminator ? parts : nil
    }
  }
}

/// Tracks whether a value continues on the next line: an open multi-line string, or an open array or
/// inline table.
private struct ValueScanner: Sendable {
  private enum Mode: Sendable { case plain, multilineBasic, multilineLiteral }
  private var mode: Mode = .plain
  private var depth = 0

  var isInsideValue: Bool { mode != .plain || depth > 0 }

  mutating func scan(_ text: Substring) {
    var rest = text
    while !rest.isEmpty {
      switch mode {
      case .multilineBasic, .multilineLiteral:
        let closing = mode == .multilineBasic ? "\"\"\"" : "'''"
        if rest.hasPrefix(closing) {
          mode = .plain
          rest = rest.dropFirst(3)
        } else if mode == .multilineBasic && rest.first == "\\" {
          rest = rest.dropFirst(2)
        } else {
          rest = rest.dropFirst()
        }
      case .plain:
        if rest.hasPrefix("\"\"\"") {
          mode = .multilineBasic
          rest = rest.dropFirst(3)
        } else if rest.hasPrefix("'''") {
          mode = .multilineLiteral
          rest = rest.dropFirst(3)
        } else if let quote = rest.first, quote == "\"" || quote == "'" {
          rest = rest.dropFirst()
          while let c = rest.popFirst() {
            if c == quote { break }
            if c == "\\" && quote == "\"" { _ = rest.popFirst() }
          }
        } else if rest.first == "#" {
          return
        } else {
          if rest.first == "[" || rest.first == "{" { depth += 1 }
          if rest.first == "]" || rest.first == "}" { depth = max(0, depth - 1) }
          rest = rest.dropFirst()
        }
      }
    }
  }
}
