import TOMLKit

/// Merges TOML documents key by key, later over earlier, as containerd's imports and CRI-O's drop-ins do:
/// tables merge recursively, and a scalar or array in a later document replaces the earlier value whole.
///
/// Each document is flattened into key paths (an explicit stack, no recursion, at most ``maximumDepth``
/// tables deep), the paths are merged in a dictionary that remembers which document set each one last, and
/// one table is rebuilt from the survivors. That owner is what lets an error, or `crisp config dump`, name
/// the file a value came from.
enum TOMLMerge {
  /// Deeper nesting than any crisp key uses, and a bound on what a hostile file can make the walk do.
  static let maximumDepth = 32

  /// A merged key: its value (nil for a table, rebuilt from its keys) and the document that set it last.
  private typealias Entry = (value: TOMLValue?, owner: Int)

  /// Parses and merges `documents` (main file first). A syntax error names its own file.
  static func merge(_ documents: [(source: String, text: String)]) throws(ConfigError) -> (reader: TableReader, sources: ConfigSources) {
    var parsed: [TableReader] = []
    for document in documents { parsed.append(try parseTOML(document.text, source: document.source)) }
    var entries: [[String]: Entry] = [:]
    for (index, reader) in parsed.enumerated() {
      try flatten(reader, owner: index, into: &entries)
    }
    let table = withExtendedLifetime(parsed) { rebuild(entries) }
    let context = ReadContext(
      documents: parsed.map { ($0.context.source, $0.context.documents.first?.locator ?? KeyLocator("")) },
      owners: entries.mapValues(\.owner), source: documents.first?.source ?? "config.toml")
    var leafSources: [[String]: String] = [:]
    for (path, entry) in entries where entry.value != nil && parsed.indices.contains(entry.owner) {
      leafSources[path] = parsed[entry.owner].context.source
    }
    return (TableReader(table, path: [], context: context), ConfigSources(leafSources))
  }

  /// Adds every key of one document to `entries`, replacing what earlier documents set at the same path.
  private static func flatten(_ reader: TableReader, owner: Int, into entries: inout [[String]: Entry]) throws(ConfigError) {
    var stack: [(table: TOMLTable, path: [String])] = [(reader.table, [])]
    while let (table, path) = stack.popLast() {
      for key in table.keys {
        guard let value = table[key]?.tomlValue else { continue }
        let full = path + [key]
        if value.type == .table, let child = value.table {
          guard full.count <= maximumDepth else {
            throw reader.context.error(full, "tables are nested deeper than \(maximumDepth) levels")
          }
          // A table over a scalar replaces it; over a table it merges (the keys below decide).
          entries[full] = (nil, owner)
          stack.append((child, full))
        } else {
          if let previous = entries[full], previous.value == nil {
            // A scalar or array over a table replaces the whole table.
            for descendant in entries.keys where descendant.count > full.count && descendant.starts(with: full) {
              entries[descendant] = nil
            }
          }
          entries[full] = (value, owner)
        }
      }
    }
  }

  /// One table holding every merged key. Tables are filled deepest first, so each is complete when it is
  /// copied into its parent.
  private static func rebuild(_ entries: [[String]: Entry]) -> TOMLTable {
    var tables: [[String]: TOMLTable] = [[]: TOMLTable()]
    for (path, entry) in entries where entry.value == nil { tables[path] = TOMLTable() }
    for (path, entry) in entries {
      guard let value = entry.value, let key = path.last, let parent = tables[Array(path.dropLast())] else { continue }
      parent[key] = value
    }
    for path in tables.keys.sorted(by: { $0.count > $1.count }) {
      guard let key = path.last, let table = tables[path], let parent = tables[Array(path.dropLast())] else { continue }
      parent[key] = table
    }
    return tables[[]] ?? TOMLTable()
  }
}
