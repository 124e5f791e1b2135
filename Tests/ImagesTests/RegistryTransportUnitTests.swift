import AsyncHTTPClient
import Config
import CrispCore
import Foundation
import Logging
import NIOCore
import NIOSSL
@testable import Registry
import Testing

/// Which registry hosts are the node itself.
@Suite struct LoopbackHostTests {
  @Test func loopbackNamesAndAddresses() {
    for domain in [
      "localhost", "localhost:5000", "LOCALHOST:5000", "localhost.", "localhost.:5000", "127.0.0.1", "127.0.0.1:5000", "127.1.2.3:80",
      "127.255.255.254:65535", "[::1]", "[::1]:5000", "[0:0:0:0:0:0:0:1]:5000", "::1",
    ] {
      #expect(LoopbackHost.isLoopback(domain), "\(domain)")
    }
  }

  @Test func otherHostsAreNot() {
    for domain in [
      "127.0.0.1.evil.com", "127.0.0.1.evil.com:5000", "localhost.example.com", "localhost.example.com:5000", "mylocalhost:5000",
      "localhost..", "127.0.0.1.", "128.0.0.1:5000", "126.255.255.255", "10.0.0.1:5000", "0.0.0.0:5000", "[::2]:5000", "[::ffff:10.0.0.1]:5000",
      "registry.example.com:5000", "docker.io", "", "localhost:", "localhost:0", "localhost:65536", "localhost:5000x", "127.0.0.1:-1",
      "[::1", "[::1]x", "127.1", "0177.0.0.1", "0x7f.0.0.1",
    ] {
      #expect(!LoopbackHost.isLoopback(domain), "\(domain)")
    }
  }

  @Test func onlyAnExplicitPortOtherThan443FallsBack() {
    #expect(LoopbackHost.fallsBackToPlainHTTP("127.0.0.1:5000"))
    #expect(LoopbackHost.fallsBackToPlainHTTP("localhost:80"))
    #expect(LoopbackHost.fallsBackToPlainHTTP("[::1]:5000"))
    #expect(!LoopbackHost.fallsBackToPlainHTTP("localhost"))
    #expect(!LoopbackHost.fallsBackToPlainHTTP("127.0.0.1:443"))
    #expect(!LoopbackHost.fallsBackToPlainHTTP("registry.example.com:5000"))
    #expect(!LoopbackHost.fallsBackToPlainHTTP("127.0.0.1.evil.com:5000"))
  }
}

/// Which endpoints a pull tries over HTTPS with a plain-HTTP fallback.
@Suite struct PlainHTTPFallbackSelectionTests {
  private func resolver(configPath: String = "", mirrors: [String: CrispConfig.Registry.Mirror] = [:]) -> HostResolver {
    var registry = CrispConfig.Registry()
    registry.configPath = configPath
    registry.mirrors = mirrors
    return HostResolver(registry: registry)
  }

  @Test func loopbackWithoutConfigurationTriesHTTPSThenHTTP() throws {
    for domain in ["127.0.0.1:5000", "localhost:5000", "[::1]:5000"] {
      let endpoints = try resolver().endpoints(for: domain)
      #expect(endpoints.count == 1)
      #expect(endpoints.first?.origin == "https://\(domain)")
      #expect(endpoints.first?.plainHTTPFallback == true, "\(domain)")
      #expect(endpoints.first?.overPlainHTTP().origin == "http://\(domain)")
      #expect(endpoints.first?.overPlainHTTP().plainHTTPFallback == false)
    }
  }

  @Test func otherHostsStayHTTPSOnly() throws {
    for domain in [
      "registry.example.com:5000", "10.0.0.1:5000", "127.0.0.1.evil.com:5000", "localhost.example.com:5000", "localhost", "127.0.0.1:443",
    ] {
      let endpoints = try resolver().endpoints(for: domain)
      #expect(endpoints.allSatisfy { !$0.plainHTTPFallback && !$0.isPlainHTTP }, "\(domain)")
    }
  }

  @Test func aConfiguredSchemeIsUsedAsIs() throws {
    let directory = NSTemporaryDirectory() + "crisp-fallback-" + UUID().uuidString
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try FileManager.default.createDirectory(atPath: directory + "/127.0.0.1_5000_", withIntermediateDirectories: true)
    try "server = \"https://127.0.0.1:5000\"\n".write(toFile: directory + "/127.0.0.1_5000_/hosts.toml", atomically: true, encoding: .utf8)
    let configured = try resolver(configPath: directory).endpoints(for: "127.0.0.1:5000")
    #expect(configured.map(\.plainHTTPFallback) == [false])
    // A hosts.toml without `server` leaves the default (and its fallback); a mirror gets none.
    try FileManager.default.createDirectory(atPath: directory + "/localhost_5000_", withIntermediateDirectories: true)
    try "[host.\"https://127.0.0.1:6000\"]\n".write(toFile: directory + "/localhost_5000_/hosts.toml", atomically: true, encoding: .utf8)
    let mirrored = try resolver(configPath: directory).endpoints(for: "localhost:5000")
    #expect(mirrored.map(\.plainHTTPFallback) == [false, true])
    // Inline endpoints with a scheme: as configured.
    let inline = try resolver(mirrors: ["127.0.0.1:5000": .init(endpoints: ["https://127.0.0.1:5000"])]).endpoints(for: "127.0.0.1:5000")
    #expect(inline.map(\.plainHTTPFallback) == [false])
  }
}

/// Library errors into operator messages, one case each.
@Suite struct ConnectionErrorTranslationTests {
  let url = "https://127.0.0.1:5000/v2/app/manifests/latest"

  /// A CA file hosts.toml names that is missing is said in words before any connection, not as NIOSSL's value.
  @Test func missingCAFileIsNamed() async throws {
    var endpoint = try RegistryEndpoint.direct("https://127.0.0.1:9")
    endpoint.caFiles = ["/nonexistent/crisp-ca.pem"]
    let client = RegistryClient(readTimeout: .seconds(5), logger: Logger(label: "test"))
    let image = try ImageReference(parsing: "127.0.0.1:9/app:1")
    do {
      _ = try await client.fetchManifest(image: image, reference: "1", endpoints: [endpoint], credentials: nil)
      Issue.record("the fetch succeeded")
    } catch {
      #expect(error.message.contains("TLS files for 127.0.0.1:9: CA file /nonexistent/crisp-ca.pem: No such file or directory"), "\(error.message)")
      #expect(!error.message.contains("NIOSSL"), "\(error.message)")
    }
    await client.shutdown()
  }

  @Test func refusedConnection() {
    let error = RegistryConnectionError.translate(IOError(errnoCode: ECONNREFUSED, reason: "connect"), url: url)
    #expect(error == .refused(authority: "127.0.0.1:5000"))
    #expect(error.description == "connection refused to 127.0.0.1:5000: is the registry running?")
    // Inside the happy-eyeballs error's attempts, refused wins.
    let nested = RegistryConnectionError.translateConnection(
      dnsErrors: [], attempts: [IOError(errnoCode: ENETUNREACH, reason: "connect"), IOError(errnoCode: ECONNREFUSED, reason: "connect")],
      .init(url: "http://localhost:5000/v2/"))
    #expect(nested == .refused(authority: "localhost:5000"))
  }

  @Test func timeouts() {
    #expect(RegistryConnectionError.translate(HTTPClientError.connectTimeout, url: url) == .connectTimeout(authority: "127.0.0.1:5000"))
    #expect(RegistryConnectionError.translate(ChannelError.connectTimeout(.seconds(1)), url: url) == .connectTimeout(authority: "127.0.0.1:5000"))
    let read = RegistryConnectionError.translate(HTTPClientError.readTimeout, url: "http://registry.example.com/v2/")
    #expect(read == .readTimeout(authority: "registry.example.com:80"))
    #expect(read.description.contains("progress timeout"))
  }

  @Test func dns() {
    let error = RegistryConnectionError.translate(
      SocketAddressError.unknown(host: "registry.invalid", port: 443), url: "https://registry.invalid/v2/")
    #expect(error.description == "cannot resolve registry.invalid: check DNS or hosts.toml")
    let nested = RegistryConnectionError.translateConnection(
      dnsErrors: [SocketAddressError.unknown(host: "registry.invalid", port: 443)], attempts: [], .init(url: "https://registry.invalid:5000/v2/"))
    #expect(nested == .unresolvable(host: "registry.invalid"))
  }

  @Test func notTLS() {
    for reason in [
      "Error: 268435703 error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER at ssl/tls_record.cc:231",
      "error:1000009c:SSL routines:OPENSSL_internal:HTTP_REQUEST", "EOF during handshake",
    ] {
      let error = RegistryConnectionError.translateTLS(reasons: [reason], .init(url: url), caFiles: [])
      #expect(error.isNotTLS, "\(reason)")
      #expect(
        error.description
          == "https://127.0.0.1:5000: the server did not answer TLS (a plain-HTTP registry? set server = \"http://127.0.0.1:5000\" in hosts.toml)")
    }
    #expect(RegistryConnectionError.translate(NIOSSLError.handshakeFailed(.sslError([.eofDuringHandshake])), url: url).isNotTLS)
    // A connection closed later is not a reason to try plain HTTP.
    #expect(!RegistryConnectionError.translate(NIOSSLError.uncleanShutdown, url: url).isNotTLS)
    #expect(!RegistryConnectionError.translate(HTTPClientError.remoteConnectionClosed, url: url).isNotTLS)
    #expect(!RegistryConnectionError.translate(IOError(errnoCode: ECONNRESET, reason: "read"), url: url).isNotTLS)
  }

  @Test func certificates() {
    let untrusted = RegistryConnectionError.translateTLS(
      reasons: ["error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"], .init(url: url), caFiles: ["/etc/certs/ca.pem"])
    guard case .untrustedCertificate(let authority, let caFiles, _) = untrusted else {
      Issue.record("\(untrusted)")
      return
    }
    #expect(authority == "127.0.0.1:5000")
    #expect(caFiles == ["/etc/certs/ca.pem"])
    #expect(untrusted.description.contains("certificate not trusted"))
    #expect(untrusted.description.contains("/etc/certs/ca.pem"))
    let name = RegistryConnectionError.translate(NIOSSLExtraError.failedToValidateHostname, url: "https://registry.example.com:5000/v2/")
    #expect(name == .certificateNameMismatch(authority: "registry.example.com:5000", host: "registry.example.com"))
    #expect(name.description.contains("not valid for registry.example.com"))
    let client = RegistryConnectionError.translateTLS(reasons: ["TLSV1_ALERT_UNKNOWN_CA"], .init(url: url), caFiles: [])
    #expect(client.description.contains("client certificate"))
  }

  @Test func otherErrorsKeepTheirTarget() {
    let unreachable = RegistryConnectionError.translate(IOError(errnoCode: EHOSTUNREACH, reason: "connect"), url: "https://[::1]:5000/v2/")
    #expect(unreachable == .unreachable(authority: "[::1]:5000", reason: "no route to host"))
    let closed = RegistryConnectionError.translate(HTTPClientError.remoteConnectionClosed, url: url)
    #expect(closed.description == "127.0.0.1:5000 closed the connection")
  }
}
