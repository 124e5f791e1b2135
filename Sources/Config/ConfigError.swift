/// A configuration that cannot be used, with where it is wrong.
///
/// `crisp config check` and the daemon print it as `FILE:LINE: KEY: problem`, so an operator (or a bootstrap
/// script's log) points straight at the line to fix.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The dotted key, e.g. `cni.max_conf_num` or `registry.mirrors."docker.io".endpoint`; empty for a syntax
  /// error that belongs to no key.
  public var key: String
  public var line: Int?
  public var message: String
  /// The file the text came from, for the message.
  public var source: String

  public init(key: String, line: Int?, message: String, source: String) {
    self.key = key
    self.line = line
    self.message = message
    self.source = source
  }

  public var description: String {
    var location = source
    if let line { location += ":\(line)" }
    if key.isEmpty { return "\(location): \(message)" }
    return "\(location): key \(key): \(message)"
  }
}

/// Renders a key path the way TOML would write it: bare segments plain, others quoted.
func dotted(_ path: [String]) -> String {
  path.map { segment in
    let bare = !segment.isEmpty && segment.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
    return bare ? segment : tomlQuoted(segment)
  }.joined(separator: ".")
}

/// A TOML basic string literal for `text`, escaped.
func tomlQuoted(_ text: String) -> String {
  var out = "\""
  for scalar in text.unicodeScalars {
    switch scalar {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\t": out += "\\t"
    case "\r": out += "\\r"
    default:
      if scalar.value < 0x20 || scalar.value == 0x7f {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
  }
  return out + "\""
}
