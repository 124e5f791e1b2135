/// Refuses the shapes of malformed TOML that toml++ (inside TOMLKit) does not report as syntax errors but
/// only checks with assertions: a table header whose key starts with a character no key may start with
/// (`[!a]`, `[[ =]]`), and an array element starting with `}` (`a = [}`, `a = [1, }`). Such a file aborts
/// the process in a build with assertions and is undefined behaviour without them; a typo in a hosts.toml
/// read at pull time would take the daemon down on every PullImage. Both were found by the TOML fuzz
/// targets (Fuzz/regressions); the other assertions on toml++'s parse path are preceded by real checks.
///
/// The scan knows only what it must: strings (basic, literal, multi-line), comments, and the brackets and
/// braces of values, so a `[` opening an array on a continuation line is not a header.
enum TOMLPreCheck {
  /// The 1-based line of the first such shape, or nil when there is none.
  static func firstAssertingLine(_ text: String) -> Int? {
    let bytes = Array(text.utf8)
    // toml++ skips a UTF-8 byte-order mark, so a header right after one starts a line for it too.
    var index = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    var line = 1
    // The brackets and braces open in the value being read, innermost last.
    var open: [UInt8] = []
    var atLineStart = true
    func byte(_ offset: Int) -> UInt8? {
      let position = index + offset
      return position < bytes.count ? bytes[position] : nil
    }
    while index < bytes.count {
      let current = bytes[index]
      switch current {
      case UInt8(ascii: "\n"):
        line += 1
        atLineStart = true
        index += 1
      case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
        index += 1
      case UInt8(ascii: "#"):
        while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
      case UInt8(ascii: "\""), UInt8(ascii: "'"):
        atLineStart = false
        skipString(bytes, &index, &line)
      case UInt8(ascii: "[") where open.isEmpty && atLineStart:
        atLineStart = false
        index += 1
        if byte(0) == UInt8(ascii: "[") { index += 1 }
        while let next = byte(0), next == UInt8(ascii: " ") || next == UInt8(ascii: "\t") { index += 1 }
        // End of text and `]` are reported by toml++ itself.
        if let first = byte(0), first != UInt8(ascii: "]"), !startsKey(first) { return line }
      case UInt8(ascii: "["), UInt8(ascii: "{"):
        atLineStart = false
        open.append(current)
        index += 1
      case UInt8(ascii: "]"), UInt8(ascii: "}"):
        atLineStart = false
        // toml++ asserts where an array element starts with `}`; in valid TOML a `}` only closes an inline
        // table, which is then the innermost thing open.
        if current == UInt8(ascii: "}"), open.last == UInt8(ascii: "[") { return line }
        _ = open.popLast()
        index += 1
      default:
        atLineStart = false
        index += 1
      }
    }
    return nil
  }

  /// The longest dotted key taken (`a.b.c` has three parts). toml++ builds the tables of a dotted key or
  /// a table header recursively, one stack frame chain per part: tens of thousands of parts in an 80 KB
  /// file overflow a worker thread's stack and kill the daemon before any depth check after the parse
  /// can refuse them. crisp's own keys have at most four parts.
  static let maximumKeyParts = 64

  /// The 1-based line of the first key (in a header, a key/value line or an inline table) with more than
  /// `maximumKeyParts` dot-separated parts, or nil. A chain is bare-key characters, quoted keys, blanks
  /// and dots; anything else (`=`, brackets, braces, commas, a line end) starts a new one, so a float or a
  /// time's fraction counts one dot.
  static func firstOverlongKeyLine(_ text: String, maximumParts: Int = maximumKeyParts) -> Int? {
    let bytes = Array(text.utf8)
    var index = 0
    var line = 1
    var dots = 0
    while index < bytes.count {
      let current = bytes[index]
      switch current {
      case UInt8(ascii: "\""), UInt8(ascii: "'"):
        let startLine = line
        skipString(bytes, &index, &line)
        if line != startLine { dots = 0 }
        continue
      case UInt8(ascii: "."):
        dots += 1
        if dots >= maximumParts { return line }
      case UInt8(ascii: " "), UInt8(ascii: "\t"):
        break
      case UInt8(ascii: "#"):
        while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
        continue
      default:
        if current == UInt8(ascii: "\n") { line += 1 }
        if !(startsKey(current) && current != UInt8(ascii: "\"") && current != UInt8(ascii: "'")) { dots = 0 }
      }
      index += 1
    }
    return nil
  }

  /// A bare key character (A-Z a-z 0-9 _ -) or a quote opening a quoted key.
  private static func startsKey(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
      UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: "'"):
      return true
    default:
      return false
    }
  }

  /// Moves `index` past the string starting there (its quote at `index`), counting the lines it spans.
  /// An unterminated string ends at the end of the text (or of its line, for a one-line string).
  private static func skipString(_ bytes: [UInt8], _ index: inout Int, _ line: inout Int) {
    let quote = bytes[index]
    let escapes = quote == UInt8(ascii: "\"")
    let tripled = index + 2 < bytes.count && bytes[index + 1] == quote && bytes[index + 2] == quote
    index += tripled ? 3 : 1
    while index < bytes.count {
      let current = bytes[index]
      if escapes && current == UInt8(ascii: "\\") {
        if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") { line += 1 }
        index += 2
        continue
      }
      if current == UInt8(ascii: "\n") {
        if !tripled { return }
        line += 1
      }
      if current == quote {
        if !tripled {
          index += 1
          return
        }
        if index + 2 < bytes.count && bytes[index + 1] == quote && bytes[index + 2] == quote {
          index += 3
          // A closing run may be up to five quotes long (two belong to the content).
          while index < bytes.count && bytes[index] == quote { index += 1 }
          return
        }
      }
      index += 1
    }
  }
}
