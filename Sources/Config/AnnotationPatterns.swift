/// Which pod or container annotations a runtime handler passes into the OCI spec (`pod_annotations`,
/// `container_annotations`). Annotations come from whoever can create pods, and the OCI runtime acts on
/// some of them (runc reads `org.systemd.property.*` and `run.oci.*`), so none pass unless a pattern
/// allows it. Patterns are globs as containerd reads them (Go's `filepath.Match`): `*` is any run of
/// characters but `/`, `?` one character but `/`, `[a-z]` / `[^a-z]` a class, `\` escapes the next one.
public struct AnnotationPatterns: Sendable, Equatable {
  public let patterns: [String]
  private let compiled: [[Token]]

  public static let none = AnnotationPatterns()

  private init() {
    patterns = []
    compiled = []
  }

  /// Throws `Invalid` naming the first malformed pattern (an unterminated `[` or trailing `\`, an empty
  /// class).
  public init(_ patterns: [String]) throws(Invalid) {
    var compiled: [[Token]] = []
    for pattern in patterns {
      guard let tokens = Self.compile(pattern) else { throw Invalid(pattern: pattern) }
      compiled.append(tokens)
    }
    self.patterns = patterns
    self.compiled = compiled
  }

  public struct Invalid: Error, Sendable, Equatable {
    public let pattern: String
  }

  public static func == (lhs: AnnotationPatterns, rhs: AnnotationPatterns) -> Bool { lhs.patterns == rhs.patterns }

  /// True when some pattern matches all of `key`.
  public func allows(_ key: String) -> Bool {
    let characters = Array(key.unicodeScalars)
    return compiled.contains { Self.match($0, characters) }
  }

  /// The annotations some pattern allows.
  public func filter(_ annotations: [String: String]) -> [String: String] {
    guard !compiled.isEmpty else { return [:] }
    return annotations.filter { allows($0.key) }
  }

  // MARK: Glob

  private enum Token: Sendable {
    case literal(Unicode.Scalar)
    case one
    case any
    case set([ClosedRange<Unicode.Scalar>], negated: Bool)
  }

  private static func compile(_ pattern: String) -> [Token]? {
    let scalars = Array(pattern.unicodeScalars)
    var tokens: [Token] = []
    var index = 0
    while index < scalars.count {
      let scalar = scalars[index]
      index += 1
      switch scalar {
      case "*": tokens.append(.any)
      case "?": tokens.append(.one)
      case "\\":
        guard index < scalars.count else { return nil }
        tokens.append(.literal(scalars[index]))
        index += 1
      case "[":
        var negated = false
        if index < scalars.count, scalars[index] == "^" {
          negated = true
          index += 1
        }
        var ranges: [ClosedRange<Unicode.Scalar>] = []
        var closed = false
        while index < scalars.count {
          if scalars[index] == "]", !ranges.isEmpty {
            index += 1
            closed = true
            break
          }
          guard let low = classCharacter(scalars, &index) else { return nil }
          var high = low
          if index + 1 < scalars.count, scalars[index] == "-", scalars[index + 1] != "]" {
            index += 1
            guard let end = classCharacter(scalars, &index) else { return nil }
            high = end
          }
          guard low <= high else { return nil }
          ranges.append(low...high)
        }
        guard closed else { return nil }
        tokens.append(.set(ranges, negated: negated))
      default:
        tokens.append(.literal(scalar))
      }
    }
    return tokens
  }

  /// One character of a class, `\` escaping the next; nil at the end of the pattern.
  private static func classCharacter(_ scalars: [Unicode.Scalar], _ index: inout Int) -> Unicode.Scalar? {
    guard index < scalars.count else { return nil }
    if scalars[index] == "\\" {
      index += 1
      guard index < scalars.count else { return nil }
    }
    let scalar = scalars[index]
    index += 1
    return scalar
  }

  /// Dynamic programming over (token, character): no backtracking, bounded by the product of the lengths.
  private static func match(_ tokens: [Token], _ text: [Unicode.Scalar]) -> Bool {
    // reachable[j]: the tokens so far can match exactly text[0..<j].
    var reachable = [Bool](repeating: false, count: text.count + 1)
    reachable[0] = true
    for token in tokens {
      var next = [Bool](repeating: false, count: text.count + 1)
      switch token {
      case .any:
        for j in 0...text.count where reachable[j] || (j > 0 && next[j - 1] && text[j - 1] != "/") {
          next[j] = true
        }
      default:
        for j in 0..<text.count where reachable[j] && single(token, text[j]) {
          next[j + 1] = true
        }
      }
      reachable = next
    }
    return reachable[text.count]
  }

  private static func single(_ token: Token, _ scalar: Unicode.Scalar) -> Bool {
    switch token {
    case .literal(let literal): return literal == scalar
    case .one: return scalar != "/"
    case .any: return false
    case .set(let ranges, let negated): return ranges.contains { $0.contains(scalar) } != negated
    }
  }
}
