#if canImport(Glibc)
import Glibc
#endif

/// Which registry hosts are this node itself: `localhost` and the loopback addresses.
///
/// A registry on the node (a cache, a test registry, `kind`'s local registry) is usually plain HTTP on a
/// high port. containerd and docker try such a registry over HTTPS and, when the server does not speak TLS,
/// over plain HTTP; crisp does the same, and only for these hosts: traffic to them never leaves the node,
/// so the fallback cannot be steered by someone on the network. Names are matched exactly, never by
/// prefix or suffix (`127.0.0.1.example.com` and `localhost.example.com` are other machines).
public enum LoopbackHost {
  /// Whether `domain` (`host[:port]`, IPv6 in brackets, as an image reference names a registry) is loopback:
  /// `localhost` (any case, with or without the root dot), an IPv4 address in 127.0.0.0/8, or `::1`.
  public static func isLoopback(_ domain: String) -> Bool {
    guard let (host, _) = split(domain) else { return false }
    return isLoopbackHost(host)
  }

  /// Whether a registry named `domain`, with no scheme configured, is tried over plain HTTP when it does
  /// not answer TLS: loopback with an explicit port other than 443 (as containerd: without a port, or on 443,
  /// the registry is HTTPS, and plain HTTP would be another port).
  public static func fallsBackToPlainHTTP(_ domain: String) -> Bool {
    guard let (host, port) = split(domain), let port, port != 443 else { return false }
    return isLoopbackHost(host)
  }

  /// `host` without brackets and the port, if any; nil when `domain` is not a well-formed `host[:port]`.
  static func split(_ domain: String) -> (host: String, port: Int?)? {
    guard !domain.isEmpty, domain.utf8.count <= 300 else { return nil }
    if domain.hasPrefix("[") {
      guard let close = domain.firstIndex(of: "]") else { return nil }
      let host = String(domain[domain.index(after: domain.startIndex)..<close])
      let rest = domain[domain.index(after: close)...]
      if rest.isEmpty { return (host, nil) }
      guard rest.hasPrefix(":"), let port = parsePort(rest.dropFirst()) else { return nil }
      return (host, port)
    }
    let colons = domain.filter { $0 == ":" }.count
    if colons == 0 { return (domain, nil) }
    // A bare IPv6 address (`::1`): not a host:port.
    if colons > 1 { return (domain, nil) }
    guard let colon = domain.firstIndex(of: ":"), let port = parsePort(domain[domain.index(after: colon)...]) else { return nil }
    return (String(domain[..<colon]), port)
  }

  private static func parsePort(_ text: Substring) -> Int? {
    guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(text), (1...65_535).contains(port)
    else { return nil }
    return port
  }

  /// `host` alone (no port, no brackets).
  static func isLoopbackHost(_ host: String) -> Bool {
    // The root dot is allowed on the name only: `127.0.0.1.` is not an address.
    if host.lowercased() == "localhost" || host.lowercased() == "localhost." { return true }
    var v4 = in_addr()
    if inet_pton(AF_INET, host, &v4) == 1 {
      // s_addr is in network order: its first byte in memory is the address's first octet.
      return withUnsafeBytes(of: &v4) { $0.first } == 127
    }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, host, &v6) == 1 {
      let bytes = withUnsafeBytes(of: &v6) { Array($0) }
      return bytes == [UInt8](repeating: 0, count: 15) + [1]
    }
    return false
  }
}
