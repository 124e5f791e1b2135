import AsyncHTTPClient
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// Why a registry could not be talked to, in an operator's words.
///
/// The HTTP, TCP and TLS libraries fail with their own types (`NIOConnectionError`, `IOError`,
/// `NIOSSLError`, `BoringSSLError`, `HTTPClientError`), whose descriptions are dumps an operator cannot act
/// on. Every transport failure of a pull is translated here, in one place, into a case that says which
/// host, what went wrong and what to check; the pull's gRPC error and `crispctl pull` carry the message.
public enum RegistryConnectionError: Error, Sendable, Equatable, CustomStringConvertible {
  /// A TLS handshake got an answer that is not TLS (or the connection closed on the handshake): the port
  /// serves plain HTTP, or nothing that speaks TLS.
  case notTLS(origin: String, authority: String)
  /// The server's certificate chain does not verify against the trusted CAs.
  case untrustedCertificate(authority: String, caFiles: [String], reason: String)
  /// The certificate is valid but not for the name (or address) that was dialled.
  case certificateNameMismatch(authority: String, host: String)
  /// Another TLS failure (protocol version, cipher, client certificate refused).
  case tlsFailed(authority: String, reason: String)
  case refused(authority: String)
  case connectTimeout(authority: String)
  /// The connection was open but the server sent nothing for the read (progress) timeout.
  case readTimeout(authority: String)
  case unresolvable(host: String)
  case unreachable(authority: String, reason: String)
  case closed(authority: String)
  case other(authority: String, reason: String)

  public var description: String {
    switch self {
    case .notTLS(let origin, let authority):
      return "\(origin): the server did not answer TLS (a plain-HTTP registry? set server = \"http://\(authority)\" in hosts.toml)"
    case .untrustedCertificate(let authority, let caFiles, let reason):
      let trusted = caFiles.isEmpty ? "the system's CAs" : "the system's CAs and \(caFiles.joined(separator: ", "))"
      return
        "https://\(authority): certificate not trusted (\(reason)); checked against \(trusted): add the registry's CA with ca = \"…\" in hosts.toml"
    case .certificateNameMismatch(let authority, let host):
      return "https://\(authority): the server's certificate is not valid for \(host) (its subjectAltName does not name it)"
    case .tlsFailed(let authority, let reason):
      return "https://\(authority): TLS handshake failed: \(reason)"
    case .refused(let authority):
      return "connection refused to \(authority): is the registry running?"
    case .connectTimeout(let authority):
      return "no connection to \(authority) within the dial timeout: is the host up and reachable (route, firewall)?"
    case .readTimeout(let authority):
      return "\(authority) sent no data within the progress timeout"
    case .unresolvable(let host):
      return "cannot resolve \(host): check DNS or hosts.toml"
    case .unreachable(let authority, let reason):
      return "cannot reach \(authority): \(reason)"
    case .closed(let authority):
      return "\(authority) closed the connection"
    case .other(let authority, let reason):
      return "\(authority): \(reason)"
    }
  }

  /// Whether a fallback from HTTPS to plain HTTP may follow: the server spoke, but not TLS.
  public var isNotTLS: Bool {
    if case .notTLS = self { return true }
    return false
  }

  /// Translates what the HTTP client threw for a request to `url` (`scheme://host[:port]/…`).
  /// `caFiles` are the extra trust roots the endpoint configured, named in certificate failures.
  public static func translate(_ error: any Error, url: String, caFiles: [String] = []) -> RegistryConnectionError {
    let target = Target(url: url)
    if let already = error as? RegistryConnectionError { return already }
    if let error = error as? HTTPClientError {
      switch error {
      case .connectTimeout, .getConnectionFromPoolTimeout: return .connectTimeout(authority: target.authority)
      case .readTimeout: return .readTimeout(authority: target.authority)
      case .remoteConnectionClosed: return .closed(authority: target.authority)
      default: return .other(authority: target.authority, reason: "\(error)")
      }
    }
    if let error = error as? ChannelError {
      switch error {
      case .connectTimeout: return .connectTimeout(authority: target.authority)
      case .eof, .ioOnClosedChannel, .alreadyClosed: return .closed(authority: target.authority)
      default: return .other(authority: target.authority, reason: "\(error)")
      }
    }
    if let error = error as? NIOConnectionError {
      return translateConnection(
        dnsErrors: [error.dnsAError, error.dnsAAAAError].compactMap { $0 }, attempts: error.connectionErrors.map(\.error), target)
    }
    if let error = error as? SocketAddressError {
      switch error {
      case .unknown: return .unresolvable(host: target.host)
      default: return .other(authority: target.authority, reason: "\(error)")
      }
    }
    if error is SocketAddressError.UnknownHost { return .unresolvable(host: target.host) }
    if let error = error as? IOError { return translateErrno(error.errnoCode, error: error, target) }
    if let error = error as? NIOSSLExtraError {
      if error == .failedToValidateHostname || error == .serverHostnameImpossibleToMatch {
        return .certificateNameMismatch(authority: target.authority, host: target.host)
      }
      return .tlsFailed(authority: target.authority, reason: "\(error)")
    }
    if let error = error as? NIOSSLError {
      switch error {
      case .handshakeFailed(let boring): return translateTLS(reasons: reasons(boring), target, caFiles: caFiles)
      case .uncleanShutdown: return .closed(authority: target.authority)
      case .unableToValidateCertificate, .noCertificateToValidate:
        return .untrustedCertificate(authority: target.authority, caFiles: caFiles, reason: "the server's certificate could not be validated")
      default: return .tlsFailed(authority: target.authority, reason: "\(error)")
      }
    }
    if let error = error as? BoringSSLError { return translateTLS(reasons: reasons(error), target, caFiles: caFiles) }
    return .other(authority: target.authority, reason: "\(error)")
  }

  /// A `NIOConnectionError`'s parts: DNS failures with no address tried mean the name does not resolve;
  /// otherwise the attempts' errors (refused wins, as the most telling).
  static func translateConnection(dnsErrors: [any Error], attempts: [any Error], _ target: Target) -> RegistryConnectionError {
    if attempts.isEmpty {
      return dnsErrors.isEmpty ? .other(authority: target.authority, reason: "no address to connect to") : .unresolvable(host: target.host)
    }
    let translated = attempts.map { translate($0, url: target.url) }
    if let refused = translated.first(where: { if case .refused = $0 { true } else { false } }) { return refused }
    return translated.first ?? .other(authority: target.authority, reason: "no address to connect to")
  }

  static func translateErrno(_ code: CInt, error: IOError, _ target: Target) -> RegistryConnectionError {
    switch code {
    case ECONNREFUSED: return .refused(authority: target.authority)
    case ETIMEDOUT: return .connectTimeout(authority: target.authority)
    case EHOSTUNREACH: return .unreachable(authority: target.authority, reason: "no route to host")
    case ENETUNREACH: return .unreachable(authority: target.authority, reason: "network unreachable")
    case ECONNRESET, EPIPE: return .closed(authority: target.authority)
    default: return .other(authority: target.authority, reason: "\(error)")
    }
  }

  /// The BoringSSL reason names (`WRONG_VERSION_NUMBER`, `CERTIFICATE_VERIFY_FAILED`, …) in an error.
  static func reasons(_ error: BoringSSLError) -> [String] {
    switch error {
    case .sslError(let errors), .unknownError(let errors): return errors.map { "\($0)" }
    default: return ["\(error)"]
    }
  }

  /// A failed handshake, from BoringSSL's reason texts: a record that is not TLS (the server answered in
  /// plain HTTP), EOF (it hung up on the ClientHello), a chain that does not verify, or anything else.
  static func translateTLS(reasons: [String], _ target: Target, caFiles: [String]) -> RegistryConnectionError {
    let text = reasons.joined(separator: "; ")
    let upper = text.uppercased()
    let notTLSMarkers = [
      "WRONG_VERSION_NUMBER", "HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "PACKET_LENGTH_TOO_LONG", "UNEXPECTED_RECORD", "EOF DURING HANDSHAKE",
    ]
    if notTLSMarkers.contains(where: { upper.contains($0) }) { return .notTLS(origin: target.origin, authority: target.authority) }
    if upper.contains("CERTIFICATE_VERIFY_FAILED") {
      return .untrustedCertificate(
        authority: target.authority, caFiles: caFiles, reason: "its chain does not lead to a trusted CA, or it has expired")
    }
    if upper.contains("TLSV1_ALERT_UNKNOWN_CA") || upper.contains("SSLV3_ALERT_BAD_CERTIFICATE") || upper.contains("CERTIFICATE_REQUIRED") {
      return .tlsFailed(authority: target.authority, reason: "the server refused crisp's client certificate (check client = … in hosts.toml)")
    }
    if upper.contains("UNSUPPORTED_PROTOCOL") || upper.contains("PROTOCOL_VERSION") {
      return .tlsFailed(authority: target.authority, reason: "no TLS version in common (crisp needs TLS 1.2 or later)")
    }
    if upper.contains("NO_SHARED_CIPHER") || upper.contains("HANDSHAKE_FAILURE") {
      return .tlsFailed(authority: target.authority, reason: "no cipher suite in common")
    }
    return .tlsFailed(authority: target.authority, reason: String(text.prefix(300)))
  }

  /// The scheme, host and port a request went to, with the port made explicit for messages.
  struct Target {
    var url: String
    var isTLS: Bool
    var host: String
    var authority: String
    var origin: String

    init(url: String) {
      self.url = url
      let schemeEnd = url.range(of: "://")
      let scheme = schemeEnd.map { url[..<$0.lowerBound].lowercased() } ?? "https"
      isTLS = scheme == "https"
      let rest = schemeEnd.map { url[$0.upperBound...] } ?? url[...]
      let hostPort = String(rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }.prefix(300))
      let split = LoopbackHost.split(hostPort)
      let name = split?.host ?? hostPort
      host = name.contains(":") ? "[\(name)]" : name
      let port = split?.port ?? (isTLS ? 443 : 80)
      authority = "\(host):\(port)"
      origin = "\(isTLS ? "https" : "http")://\(hostPort)"
    }
  }
}
