import Foundation

/// Credentials for one pull: from the CRI `AuthConfig` kubelet sends (image pull secrets), else from the
/// configuration's `registry.configs."<host>".auth`. Never logged: `description` is redacted.
public struct RegistryCredentials: Sendable, Equatable, CustomStringConvertible {
  public var username: String
  public var password: String
  /// An OAuth2 refresh token (docker's "identity token"), exchanged at the token endpoint.
  public var identityToken: String
  /// A bearer token to present as is.
  public var registryToken: String

  public init(username: String = "", password: String = "", auth: String = "", identityToken: String = "", registryToken: String = "") {
    var user = username, pass = password
    if user.isEmpty && pass.isEmpty && !auth.isEmpty,
      let decoded = Data(base64Encoded: auth).map({ String(decoding: $0, as: UTF8.self) }),
      let colon = decoded.firstIndex(of: ":")
    {
      user = String(decoded[..<colon])
      pass = String(decoded[decoded.index(after: colon)...])
    }
    self.username = user
    self.password = pass
    self.identityToken = identityToken
    self.registryToken = registryToken
  }

  public var isEmpty: Bool { username.isEmpty && password.isEmpty && identityToken.isEmpty && registryToken.isEmpty }

  var basicHeader: String? {
    guard !username.isEmpty || !password.isEmpty else { return nil }
    return "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
  }

  public var description: String { isEmpty ? "anonymous" : "credentials for \(username.isEmpty ? "<token>" : username)" }
}

/// A parsed `WWW-Authenticate` challenge.
struct AuthChallenge: Equatable {
  enum Scheme: Equatable { case basic, bearer }
  var scheme: Scheme
  var parameters: [String: String]

  var realm: String? { parameters["realm"] }

  /// Parses `Bearer realm="https://auth/token",service="registry",scope="repository:x:pull"` and `Basic realm="x"`.
  /// Several challenges may be given; the first one crisp can answer wins (Bearer over Basic).
  static func parse(_ headers: [String]) -> AuthChallenge? {
    var found: [AuthChallenge] = []
    for header in headers {
      var rest = Substring(header)
      while !rest.isEmpty {
        rest = rest.drop { $0 == " " || $0 == "," }
        let schemeName = rest.prefix { $0 != " " }
        rest = rest.dropFirst(schemeName.count)
        let scheme: Scheme?
        switch schemeName.lowercased() {
        case "bearer": scheme = .bearer
        case "basic": scheme = .basic
        default: scheme = nil
        }
        var parameters: [String: String] = [:]
        // key=value or key="quoted, value" pairs until the next scheme token.
        while true {
          let trimmed = rest.drop { $0 == " " || $0 == "," }
          guard let equals = trimmed.firstIndex(of: "="), !trimmed[..<equals].contains(" ") else {
            rest = trimmed
            break
          }
          let key = String(trimmed[..<equals]).lowercased()
          var value = ""
          var cursor = trimmed[trimmed.index(after: equals)...]
          if cursor.first == "\"" {
            cursor = cursor.dropFirst()
            while let c = cursor.first {
              cursor = cursor.dropFirst()
              if c == "\\", let next = cursor.first {
                value.append(next)
                cursor = cursor.dropFirst()
              } else if c == "\"" {
                break
              } else {
                value.append(c)
              }
            }
          } else {
            let token = cursor.prefix { $0 != "," && $0 != " " }
            value = String(token)
            cursor = cursor.dropFirst(token.count)
          }
          parameters[key] = value
          rest = cursor
        }
        if let scheme { found.append(AuthChallenge(scheme: scheme, parameters: parameters)) }
      }
    }
    return found.first { $0.scheme == .bearer } ?? found.first
  }
}

/// Bearer tokens by realm, service, scope and identity, until they expire; concurrent requests for the same
/// token wait for one fetch instead of each asking the token server.
actor TokenCache {
  struct Key: Hashable {
    var realm: String
    var service: String
    var scope: String
    var identity: String
  }

  private struct Entry {
    var token: String
    var expires: ContinuousClock.Instant
  }

  private var tokens: [Key: Entry] = [:]
  private var inFlight: [Key: Task<(String, Duration), any Error>] = [:]

  func token(for key: Key, fetch: @escaping @Sendable () async throws -> (String, Duration)) async throws -> String {
    if let entry = tokens[key], entry.expires > .now { return entry.token }
    if let task = inFlight[key] { return try await task.value.0 }
    let task = Task { try await fetch() }
    inFlight[key] = task
    defer { inFlight[key] = nil }
    let (token, lifetime) = try await task.value
    // Renew a little early so a token never expires mid-request.
    tokens[key] = Entry(token: token, expires: .now + max(lifetime - .seconds(10), .seconds(1)))
    return token
  }

  /// Forgets a token the registry rejected.
  func invalidate(_ key: Key) { tokens[key] = nil }

  /// The token for `key` if cached and fresh.
  func cached(_ key: Key) -> String? {
    guard let entry = tokens[key], entry.expires > .now else { return nil }
    return entry.token
  }
}
