public import CrispCore
public import OCI

/// An image reference as kubelet and operators write it, normalised the way Docker and containerd do:
/// `busybox` is `docker.io/library/busybox:latest`; `registry:5000/team/app@sha256:…` keeps its digest.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
  /// The registry host, with port if any (`docker.io`, `registry.local:5000`).
  public let domain: String
  /// The repository path inside the registry (`library/busybox`).
  public let path: String
  public let tag: String?
  public let digest: Digest?

  public static let defaultDomain = "docker.io"
  public static let defaultTag = "latest"

  /// Parses and normalises `text`. Errors are `invalidArgument` naming the reference and what is wrong.
  public init(parsing text: String) throws(CrispError) {
    func invalid(_ why: String) -> CrispError {
      CrispError.invalidArgument("image reference \"\(text)\": \(why)")
    }
    guard !text.isEmpty else { throw CrispError.invalidArgument("image reference is empty") }
    guard text.utf8.count <= 4096 else { throw invalid("too long") }
    var remainder = Substring(text)
    var digest: Digest?
    if let at = remainder.firstIndex(of: "@") {
      do {
        digest = try Digest(parsing: String(remainder[remainder.index(after: at)...]))
      } catch {
        throw invalid(error.message)
      }
      remainder = remainder[..<at]
    }
    var tag: String?
    // A tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
    if let colon = remainder.lastIndex(of: ":"), !remainder[colon...].contains("/") {
      let candidate = String(remainder[remainder.index(after: colon)...])
      guard Self.isValidTag(candidate) else { throw invalid("\"\(candidate)\" is not a valid tag") }
      tag = candidate
      remainder = remainder[..<colon]
    }
    var components = remainder.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    guard !components.isEmpty, !components.contains(where: \.isEmpty) else { throw invalid("empty path component") }
    var domain = Self.defaultDomain
    if components.count > 1, let first = components.first,
      first.contains(".") || first.contains(":") || first == "localhost" || first.contains(where: \.isUppercase)
    {
      guard Self.isValidDomain(first) else { throw invalid("\"\(first)\" is not a valid registry host") }
      domain = first
      components.removeFirst()
    }
    if domain == "index.docker.io" || domain == "registry-1.docker.io" { domain = Self.defaultDomain }
    for component in components where !Self.isValidPathComponent(component) {
      throw invalid("\"\(component)\" is not a valid repository path component (lowercase letters, digits and . _ - separators)")
    }
    if domain == Self.defaultDomain && components.count == 1 { components.insert("library", at: 0) }
    let path = components.joined(separator: "/")
    guard domain.utf8.count + 1 + path.utf8.count <= 255 else { throw invalid("repository name longer than 255 characters") }
    if tag == nil && digest == nil { tag = Self.defaultTag }
    self.domain = domain
    self.path = path
    self.tag = tag
    self.digest = digest
  }

  public init(domain: String, path: String, tag: String?, digest: Digest?) {
    self.domain = domain
    self.path = path
    self.tag = tag
    self.digest = digest
  }

  /// `domain/path`, the repository.
  public var repository: String { "\(domain)/\(path)" }

  /// The full normalised reference: `docker.io/library/busybox:latest`, `host/app@sha256:…`, or both forms.
  public var description: String {
    var text = repository
    if let tag { text += ":\(tag)" }
    if let digest { text += "@\(digest)" }
    return text
  }

  /// What the registry is asked for: the digest when there is one (it pins the content), else the tag.
  public var manifestReference: String { digest?.description ?? tag ?? Self.defaultTag }

  /// `repository:tag` when a tag is known.
  public var taggedName: String? { tag.map { "\(repository):\($0)" } }

  /// `repository@digest` for a given manifest digest.
  public func digestedName(_ digest: Digest) -> String { "\(repository)@\(digest)" }

  static func isValidTag(_ tag: String) -> Bool {
    guard let first = tag.utf8.first, tag.utf8.count <= 128 else { return false }
    func word(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }
    return word(first) && tag.utf8.allSatisfy { word($0) || $0 == 46 || $0 == 45 }
  }

  /// Lowercase alphanumerics separated by one `.`, one or two `_`, or any number of `-`.
  static func isValidPathComponent(_ component: String) -> Bool {
    let bytes = Array(component.utf8)
    func alnum(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 97 && c <= 122) }
    guard let first = bytes.first, let last = bytes.last, alnum(first), alnum(last) else { return false }
    var index = 0
    while index < bytes.count {
      if alnum(bytes[index]) { index += 1; continue }
      var end = index
      while end < bytes.count && !alnum(bytes[end]) { end += 1 }
      let separator = bytes[index..<end]
      let ok =
        separator.elementsEqual([46]) || separator.elementsEqual([95]) || separator.elementsEqual([95, 95])
        || separator.allSatisfy { $0 == 45 }
      guard ok else { return false }
      index = end
    }
    return true
  }

  static func isValidDomain(_ domain: String) -> Bool {
    var host = Substring(domain)
    if let colon = host.lastIndex(of: ":"), !host.hasPrefix("[") || host[..<colon].hasSuffix("]") {
      let port = host[host.index(after: colon)...]
      guard !port.isEmpty, port.allSatisfy(\.isNumber), let number = Int(port), number <= 65535 else { return false }
      host = host[..<colon]
    }
    if host.hasPrefix("[") && host.hasSuffix("]") {
      // An IPv6 literal: hex digits, colons and dots (an embedded IPv4) only. The domain names a hosts.toml
      // directory, so nothing else may pass.
      let inner = host.dropFirst().dropLast()
      return !inner.isEmpty && inner.utf8.allSatisfy { ($0 >= 48 && $0 <= 58) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) || $0 == 46 }
        && inner.contains(":")
    }
    let labels = host.split(separator: ".", omittingEmptySubsequences: false)
    return !labels.isEmpty
      && labels.allSatisfy { label in
        guard let first = label.first, let last = label.last else { return false }
        return first.isASCII && (first.isLetter || first.isNumber) && last.isASCII && (last.isLetter || last.isNumber)
          && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
      }
  }
}
