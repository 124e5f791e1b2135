import Foundation

/// Which redirects a registry request follows, and what goes along.
///
/// A registry may send blob downloads elsewhere (a storage backend, a CDN), and whatever it names is
/// fetched by the node: the answer is decided here, from the URLs alone, so it can be tested without a
/// network.
/// - Only `http` and `https` are followed (the HTTP client would also dial `http+unix://` and friends, that
///   is, sockets on the node).
/// - Never from `https` to `http`: content and credentials that were protected would not be.
/// - At most ``maximumRedirects`` in a row.
/// - Credentials (`Authorization`) and the hosts.toml `header` entries go only to the origin the request
///   was made to: the same scheme, host and port. Another port on the same host is another server.
struct RedirectPolicy {
  static let maximumRedirects = 5

  enum Decision: Equatable {
    /// Request `url` next; `sameOrigin` says whether credentials and configured headers go with it.
    case follow(url: String, sameOrigin: Bool)
    case refuse(String)
  }

  /// `scheme://host:port`, lowercased, with the scheme's default port made explicit; nil for a URL without
  /// scheme or host.
  static func origin(_ url: URL) -> (scheme: String, host: String, port: Int)? {
    guard let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(), !host.isEmpty else { return nil }
    let port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : -1)
    return (scheme, host, port)
  }

  /// Whether `a` and `b` are the same origin: scheme, host and port all equal.
  static func sameOrigin(_ a: String, _ b: String) -> Bool {
    guard let first = URL(string: a).flatMap(origin), let second = URL(string: b).flatMap(origin) else { return false }
    return first == second
  }

  /// What to do with a redirect answered to a request for `current`, the `redirects`-th one so far, in a
  /// chain that started at `original`.
  static func decide(original: String, current: String, location: String?, redirects: Int) -> Decision {
    guard redirects < maximumRedirects else { return .refuse("more than \(maximumRedirects) redirects") }
    guard let location, !location.isEmpty else { return .refuse("a redirect without a Location") }
    guard let base = URL(string: current), let next = URL(string: location, relativeTo: base)?.absoluteURL else {
      return .refuse("a redirect to \"\(location.prefix(200))\", which is not a URL")
    }
    let scheme = next.scheme?.lowercased() ?? ""
    guard scheme == "http" || scheme == "https" else {
      return .refuse("a redirect to a \(scheme.prefix(40)): URL (only http and https are followed)")
    }
    guard let target = origin(next) else {
      return .refuse("a redirect to \"\(location.prefix(200))\", which names no host")
    }
    if base.scheme?.lowercased() == "https" && target.scheme == "http" {
      return .refuse("a redirect from https to plain http (\(target.host.prefix(200)):\(target.port))")
    }
    return .follow(url: next.absoluteString, sameOrigin: sameOrigin(original, next.absoluteString))
  }
}
