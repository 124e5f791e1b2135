import TOMLKit

/// Reads one TOML table key by key, checking each value's type, and remembers which keys it consumed so
/// that anything left over is reported as unknown instead of silently ignored.
struct TableReader {
  let table: TOMLTable
  let path: [String]
  let context: ReadContext
  private var consumed: Set<String> = []

  init(_ table: TOMLTable, path: [String], context: ReadContext) {
    self.table = table
    self.path = path
    self.context = context
  }

  /// The keys of this table in the order they appear in the file.
  /// The keys of this table in the order they appear in the files (a merged table: the main file's first,
  /// then each drop-in's, by the file that last set them).
  var keysInFileOrder: [String] {
    table.keys.sorted { a, b in
      let oa = context.order(of: path + [a])
      let ob = context.order(of: path + [b])
      return oa == ob ? a < b : (oa.file, oa.line) < (ob.file, ob.line)
    }
  }

  func error(_ key: String?, _ message: String) -> ConfigError {
    context.error(key.map { path + [$0] } ?? path, message)
  }

  private mutating func value(_ key: String, expecting expected: String, _ types: TOMLType...) throws(ConfigError) -> TOMLValue? {
    guard let raw = table[key] else { return nil }
    consumed.insert(key)
    let value = raw.tomlValue
    guard types.contains(value.type) else {
      throw error(key, "expected \(expected), found \(describe(value.type))")
    }
    return value
  }

  mutating func string(_ key: String) throws(ConfigError) -> String? {
    try value(key, expecting: "a string", .string)?.string
  }

  mutating func int(_ key: String) throws(ConfigError) -> Int? {
    try value(key, expecting: "an integer", .int)?.int
  }

  /// An integer that may also be written as a decimal string (containerd writes `stream_server_port = "0"`).
  mutating func intOrNumericString(_ key: String) throws(ConfigError) -> Int? {
    guard let value = try value(key, expecting: "an integer", .int, .string) else { return nil }
    if let int = value.int { return int }
    guard let text = value.string, let int = Int(text) else {
      throw error(key, "expected an integer, found \(tomlQuoted(value.string ?? ""))")
    }
    return int
  }

  /// A float, or an integer taken as one (`1` for `1.0`).
  mutating func number(_ key: String) throws(ConfigError) -> Double? {
    guard let value = try value(key, expecting: "a number", .double, .int) else { return nil }
    if let int = value.int { return Double(int) }
    return value.double
  }

  mutating func bool(_ key: String) throws(ConfigError) -> Bool? {
    try value(key, expecting: "a boolean", .bool)?.bool
  }

  mutating func stringArray(_ key: String) throws(ConfigError) -> [String]? {
    guard let array = try value(key, expecting: "an array of strings", .array)?.array else { return nil }
    var result: [String] = []
    for (index, element) in array.enumerated() {
      guard let text = element.tomlValue.string, element.tomlValue.type == .string else {
        throw error(key, "element \(index): expected a string, found \(describe(element.tomlValue.type))")
      }
      result.append(text)
    }
    return result
  }

  mutating func duration(_ key: String) throws(ConfigError) -> TimeSpan? {
    guard let text = try string(key) else { return nil }
    guard let span = TimeSpan(parsing: text) else {
      throw error(key, "\(tomlQuoted(text)) is not a duration (write e.g. \"30s\", \"5m\", \"4h0m0s\")")
    }
    return span
  }

  mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) throws(ConfigError) -> T?
  where T.RawValue == String {
    guard let text = try string(key) else { return nil }
    guard let value = T(rawValue: text) else {
      let allowed = T.allCases.map { tomlQuoted($0.rawValue) }.joined(separator: ", ")
      throw error(key, "\(tomlQuoted(text)) is not one of \(allowed)")
    }
    return value
  }

  mutating func table(_ key: String) throws(ConfigError) -> TableReader? {
    guard let table = try value(key, expecting: "a table", .table)?.table else { return nil }
    return TableReader(table, path: path + [key], context: context)
  }

  /// Marks a key as known without reading it (for keys accepted and deliberately unused).
  mutating func skip(_ key: String) {
    consumed.insert(key)
  }

  /// Fails on the first key (in file order) that nothing read.
  func finish() throws(ConfigError) {
    for key in keysInFileOrder where !consumed.contains(key) {
      throw error(key, "unknown key")
    }
  }

  /// The keys nothing read, for importers that warn instead of failing.
  var unreadKeys: [String] { keysInFileOrder.filter { !consumed.contains($0) } }

  private func describe(_ type: TOMLType) -> String {
    switch type {
    case .table: return "a table"
    case .array: return "an array"
    case .string: return "a string"
    case .int: return "an integer"
    case .double: return "a float"
    case .bool: return "a boolean"
    case .date: return "a date"
    case .time: return "a time"
    case .dateTime: return "a date-time"
    }
  }
}

/// What every reader of one document shares: where each key was written. A document merged from a main
/// file and drop-ins knows, for each key path, which file set it last, so an error names that file's path
/// and line.
struct ReadContext {
  /// The files the document came from, in merge order (one for a plain file).
  let documents: [(source: String, locator: KeyLocator)]
  /// Which of `documents` last set each key path; empty for a single document.
  let owners: [[String]: Int]
  /// The file named when a key has no owner (the main file).
  let source: String

  init(locator: KeyLocator, source: String) {
    documents = [(source, locator)]
    owners = [:]
    self.source = source
  }

  init(documents: [(source: String, locator: KeyLocator)], owners: [[String]: Int], source: String) {
    self.documents = documents
    self.owners = owners
    self.source = source
  }

  /// The document that owns `path`: its own entry, else its nearest ancestor's (keys of inline tables).
  private func owner(of path: [String]) -> Int? {
    if owners.isEmpty { return documents.isEmpty ? nil : 0 }
    var candidate = path
    while !candidate.isEmpty {
      if let index = owners[candidate] { return index }
      candidate.removeLast()
    }
    return nil
  }

  /// The file and line where `path` was set.
  func origin(of path: [String]) -> (source: String, line: Int?) {
    guard let index = owner(of: path), documents.indices.contains(index) else { return (source, nil) }
    return (documents[index].source, documents[index].locator.line(of: path))
  }

  /// Whether the main file (the first document) writes `path` or a key below it.
  func mainFileMentions(_ path: [String]) -> Bool {
    documents.first?.locator.mentions(path) ?? false
  }

  /// The line of `path` in the file that set it.
  func line(of path: [String]) -> Int? { origin(of: path).line }

  /// An error at `path`, located in the file that set it.
  func error(_ path: [String], _ message: String) -> ConfigError {
    let origin = origin(of: path)
    return ConfigError(key: dotted(path), line: origin.line, message: message, source: origin.source)
  }

  /// Sorts keys by file (merge order), then line.
  func order(of path: [String]) -> (file: Int, line: Int) {
    guard let index = owner(of: path), documents.indices.contains(index) else { return (Int.max, Int.max) }
    return (index, documents[index].locator.line(of: path) ?? Int.max)
  }
}

/// Parses TOML text, turning a syntax error into a ``ConfigError`` with its line.
func parseTOML(_ text: String, source: String) throws(ConfigError) -> TableReader {
  if let line = TOMLPreCheck.firstAssertingLine(text) {
    throw ConfigError(
      key: "", line: line,
      message: "TOML syntax: a table header's key must start with a letter, digit, '_', '-' or a quote, and an array element cannot start with '}'",
      source: source)
  }
  if let line = TOMLPreCheck.firstOverlongKeyLine(text) {
    throw ConfigError(
      key: "", line: line, message: "a key with more than \(TOMLPreCheck.maximumKeyParts) dot-separated parts (no configuration key is that deep)",
      source: source)
  }
  let table: TOMLTable
  do {
    table = try TOMLTable(string: text)
  } catch let parseError as TOMLParseError {
    throw ConfigError(key: "", line: parseError.source.begin.line, message: "TOML syntax: \(parseError.description)", source: source)
  } catch {
    throw ConfigError(key: "", line: nil, message: "TOML syntax: \(error)", source: source)
  }
  return TableReader(table, path: [], context: ReadContext(locator: KeyLocator(text), source: source))
}
