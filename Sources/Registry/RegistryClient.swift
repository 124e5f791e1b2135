import AsyncHTTPClient
public import Config
public import CrispCore
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
public import Store
import Synchronization
public import OCI

/// A manifest or index as a registry returned it.
public struct FetchedManifest: Sendable {
  public var bytes: [UInt8]
  public var mediaType: String?
  /// The digest the registry reported (`Docker-Content-Digest`), if any; crisp computes its own.
  public var reportedDigest: String?
  public var endpoint: RegistryEndpoint

  public init(bytes: [UInt8], mediaType: String?, reportedDigest: String?, endpoint: RegistryEndpoint) {
    self.bytes = bytes
    self.mediaType = mediaType
    self.reportedDigest = reportedDigest
    self.endpoint = endpoint
  }
}

/// The OCI distribution client: manifests and blobs from a registry's endpoints (mirrors first), with
/// Basic and Bearer auth, falling back from host to host and naming every host tried when all fail.
public final class RegistryClient: Sendable {
  private let logger: Logger
  /// `image_pull_progress_timeout`: a reload replaces it for the connections made after.
  private let readTimeout: Mutex<TimeSpan>
  /// One client per (dial timeout, read timeout) in nanoseconds: its configuration fixes both.
  private let clients = Mutex<[[Int64]: HTTPClient]>([:])
  private let tokens = TokenCache()
  /// The last challenge each host answered with, so later requests authenticate up front.
  private let challenges = Mutex<[String: AuthChallenge]>([:])
  public static let userAgent = "crisp/\(CrispVersion.current)"
  /// A dead mirror costs at most this long when its hosts.toml sets no `dial_timeout`.
  public static let defaultDialTimeout = TimeSpan.seconds(10)

  public init(readTimeout: TimeSpan, logger: Logger) {
    self.readTimeout = Mutex(readTimeout)
    self.logger = logger
  }

  /// Sets the read timeout of the requests that start from now (a configuration reload); requests under
  /// way keep theirs.
  public func setReadTimeout(_ timeout: TimeSpan) {
    readTimeout.withLock { $0 = timeout }
  }

  /// Closes every connection; call once when the daemon stops.
  public func shutdown() async {
    let all = clients.withLock { clients in
      defer { clients = [:] }
      return Array(clients.values)
    }
    for client in all { try? await client.shutdown() }
  }

  private func client(dialTimeout: TimeSpan?) -> HTTPClient {
    let dial = dialTimeout ?? Self.defaultDialTimeout
    let read = readTimeout.withLock { $0 }
    let key = [dial.nanoseconds, read.nanoseconds]
    return clients.withLock { clients in
      if let existing = clients[key] { return existing }
      var configuration = HTTPClient.Configuration(
        redirectConfiguration: .disallow,
        timeout: .init(connect: .nanoseconds(dial.nanoseconds), read: .nanoseconds(read.nanoseconds)))
      configuration.decompression = .disabled
      // A connection that fails fails its requests now, with the real cause (refused, not TLS, bad
      // certificate), instead of being retried until the dial timeout and reported as a timeout; the pull
      // falls back to the next host itself.
      configuration.connectionPool.retryConnectionEstablishment = false
      let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
      clients[key] = client
      return client
    }
  }

  // MARK: Public operations

  /// Fetches the manifest (or index) `reference` (a tag or digest) of `image`, trying each endpoint in turn.
  public func fetchManifest(
    image: ImageReference, reference: String, endpoints: [RegistryEndpoint], credentials: RegistryCredentials?
  ) async throws(CrispError) -> FetchedManifest {
    let byDigest = reference.hasPrefix("sha256:")
    let usable = endpoints.filter { byDigest ? ($0.canPull || $0.canResolve) : $0.canResolve }
    return try await withFallback(image: image, what: "manifest \(reference)", endpoints: usable) { endpoint throws(HostFailure) in
      let url = self.url(endpoint, image: image, path: "manifests/\(reference)")
      let response = try await self.send(.GET, url: url, endpoint: endpoint, image: image, accept: MediaType.manifestAccept, credentials: credentials)
      guard response.status == .ok else { throw await HostFailure.status(response) }
      let limit = ManifestParser.maximumDocumentSize
      let body: ByteBuffer
      do {
        body = try await response.body.collect(upTo: limit + 1)
      } catch {
        throw HostFailure(
          answer:
            "manifest larger than \(limit) bytes or unreadable: \(RegistryConnectionError.translate(error, url: url, caFiles: endpoint.caFiles))",
          kind: .other)
      }
      return FetchedManifest(
        bytes: Array(buffer: body), mediaType: response.headers.first(name: "Content-Type"),
        reportedDigest: response.headers.first(name: "Docker-Content-Digest"), endpoint: endpoint)
    }
  }

  /// Streams blob `descriptor` of `image` into the content store (verified there), trying each endpoint.
  /// `progress` is called with the running byte count.
  public func fetchBlob(
    image: ImageReference, descriptor: Descriptor, endpoints: [RegistryEndpoint], credentials: RegistryCredentials?,
    into store: ContentStore, progress: @escaping @Sendable (Int64) -> Void = { _ in }
  ) async throws(CrispError) {
    let usable = endpoints.filter(\.canPull)
    try await withFallback(image: image, what: "blob \(descriptor.digest)", endpoints: usable) { endpoint throws(HostFailure) in
      let url = self.url(endpoint, image: image, path: "blobs/\(descriptor.digest)")
      let response = try await self.send(.GET, url: url, endpoint: endpoint, image: image, accept: ["*/*"], credentials: credentials)
      guard response.status == .ok else { throw await HostFailure.status(response) }
      let writer: IngestWriter
      do throws(CrispError) {
        writer = try store.beginIngest(expectedSHA256: descriptor.digest.hex, expectedSize: descriptor.size)
      } catch {
        throw HostFailure(answer: error.message, kind: .fatal(error))
      }
      do {
        for try await buffer in response.body {
          try buffer.withUnsafeReadableBytes { raw throws(CrispError) in try writer.append(raw) }
          progress(writer.written)
        }
        try writer.commit()
      } catch let error as CrispError {
        writer.abort()
        // A digest or size mismatch is the content's fault, not the connection's: another host may serve it
        // right, so fall back, but say what this one sent.
        throw HostFailure(answer: error.message, kind: .other)
      } catch {
        writer.abort()
        throw HostFailure(RegistryConnectionError.translate(error, url: url, caFiles: endpoint.caFiles))
      }
    }
  }

  // MARK: Fallback

  /// What one host answered when it could not serve the request.
  struct HostFailure: Error {
    enum Kind { case notFound, unauthorized, connection, other, fatal(CrispError) }
    var answer: String
    var kind: Kind
    /// The transport failure, when the host could not be talked to at all.
    var connection: RegistryConnectionError?

    init(answer: String, kind: Kind) {
      self.answer = answer
      self.kind = kind
    }

    init(_ connection: RegistryConnectionError) {
      answer = connection.description
      kind = .connection
      self.connection = connection
    }

    static func status(_ response: HTTPClientResponse) async -> HostFailure {
      let code = response.status.code
      var detail = "\(code) \(response.status.reasonPhrase)"
      // Registries explain errors in a JSON body ({"errors":[{"code","message"}]}).
      if let body = try? await response.body.collect(upTo: 64 * 1024),
        let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
        let errors = object["errors"] as? [[String: Any]], let first = errors.first
      {
        let codeText = first["code"] as? String ?? ""
        let message = first["message"] as? String ?? ""
        detail += ": \(codeText) \(message)".trimmingCharacters(in: .whitespaces)
      }
      switch code {
      case 404: return HostFailure(answer: detail, kind: .notFound)
      case 401, 403: return HostFailure(answer: detail, kind: .unauthorized)
      default: return HostFailure(answer: detail, kind: .other)
      }
    }
  }

  private func withFallback<T: Sendable>(
    image: ImageReference, what: String, endpoints: [RegistryEndpoint],
    _ attempt: (RegistryEndpoint) async throws(HostFailure) -> T
  ) async throws(CrispError) -> T {
    guard !endpoints.isEmpty else {
      throw CrispError.failedPrecondition("pull \(image): no configured host may serve \(what) (check capabilities in hosts.toml)")
    }
    var failures: [(RegistryEndpoint, HostFailure)] = []
    for endpoint in endpoints {
      if Task.isCancelled { throw CrispError(.cancelled, "pull \(image): cancelled") }
      do {
        return try await attempt(endpoint)
      } catch {
        if case .fatal(let fatal) = error.kind { throw fatal }
        logger.debug("registry host failed", metadata: ["host": "\(endpoint)", "what": "\(what)", "answer": "\(error.answer)"])
        guard endpoint.plainHTTPFallback, error.connection?.isNotTLS == true else {
          failures.append((endpoint, error))
          continue
        }
        // A registry on this node that does not speak TLS: the same request over plain HTTP.
        let plain = endpoint.overPlainHTTP()
        do {
          let result = try await attempt(plain)
          logger.debug("registry on the node answered over plain HTTP", metadata: ["host": "\(endpoint.host)", "what": "\(what)"])
          return result
        } catch let plainError {
          if case .fatal(let fatal) = plainError.kind { throw fatal }
          failures.append((endpoint, error))
          failures.append((plain, plainError))
        }
      }
    }
    let summary = failures.map { Self.summarize($0.0, $0.1) }.joined(separator: "; ")
    let message = "pull \(image): \(what): every host failed: \(summary)"
    // Hosts that could not be reached say nothing about the image; if every host that answered said 404,
    // the image does not exist.
    let answered = failures.filter { if case .connection = $0.1.kind { return false } else { return true } }
    if !answered.isEmpty && answered.allSatisfy({ if case .notFound = $0.1.kind { return true } else { return false } }) {
      throw CrispError.notFound(message)
    }
    if failures.contains(where: { if case .unauthorized = $0.1.kind { return true } else { return false } }) {
      throw CrispError(.unauthenticated, message)
    }
    throw CrispError(.unavailable, message)
  }

  /// One host's failure for the pull's error: a transport failure names its own target (which may be a
  /// redirect's), any other answer is prefixed by the endpoint.
  private static func summarize(_ endpoint: RegistryEndpoint, _ failure: HostFailure) -> String {
    if let connection = failure.connection {
      let text = connection.description
      return text.hasPrefix(endpoint.origin) ? text : "\(endpoint): \(text)"
    }
    return "\(endpoint) (\(failure.answer))"
  }

  // MARK: Requests

  private func url(_ endpoint: RegistryEndpoint, image: ImageReference, path: String) -> String {
    var url = "\(endpoint.origin)\(endpoint.apiRoot)/\(image.path)/\(path)"
    if endpoint.isMirror { url += "?ns=\(image.domain)" }
    return url
  }

  private func scope(_ image: ImageReference) -> String { "repository:\(image.path):pull" }

  /// Sends a request, answering an auth challenge once, following redirects by hand as ``RedirectPolicy``
  /// decides: credentials and configured headers go only to the origin of `url`, never to a storage
  /// backend a registry redirects blob downloads to, nor to another port or scheme on the same host.
  private func send(
    _ method: HTTPMethod, url: String, endpoint: RegistryEndpoint, image: ImageReference, accept: [String],
    credentials: RegistryCredentials?
  ) async throws(HostFailure) -> HTTPClientResponse {
    let client = client(dialTimeout: endpoint.dialTimeout)
    let tls = try tlsConfiguration(endpoint)
    var authorization = try await authorizationHeader(endpoint: endpoint, image: image, credentials: credentials, challenge: nil)
    var answeredChallenge = false
    var currentURL = url
    var sameOrigin = true
    var redirects = 0
    while true {
      var request = HTTPClientRequest(url: currentURL)
      request.method = method
      request.tlsConfiguration = tls
      request.headers.add(name: "User-Agent", value: Self.userAgent)
      for type in accept { request.headers.add(name: "Accept", value: type) }
      if sameOrigin {
        for (name, values) in endpoint.headers { for value in values { request.headers.add(name: name, value: value) } }
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
      }
      let response: HTTPClientResponse
      do {
        response = try await client.execute(request, deadline: .distantFuture, logger: nil)
      } catch {
        throw HostFailure(RegistryConnectionError.translate(error, url: currentURL, caFiles: endpoint.caFiles))
      }
      switch response.status.code {
      case 301, 302, 303, 307, 308:
        let decision = RedirectPolicy.decide(
          original: url, current: currentURL, location: response.headers.first(name: "Location"), redirects: redirects)
        guard case .follow(let next, let nextSameOrigin) = decision else {
          let why = if case .refuse(let reason) = decision { reason } else { "" }
          logger.warning("registry redirect refused", metadata: ["host": "\(endpoint.host)", "reason": "\(why)"])
          throw HostFailure(answer: "redirect refused: \(why)", kind: .other)
        }
        _ = try? await response.body.collect(upTo: 64 * 1024)
        redirects += 1
        currentURL = next
        sameOrigin = nextSameOrigin
        continue
      case 401 where !sameOrigin:
        // A storage backend's challenge is not the registry's: answering it would hand the registry's
        // credentials (or a token realm it names) to whoever the redirect pointed at.
        throw HostFailure(
          answer:
            "401 Unauthorized from \(URLComponents(string: currentURL)?.host ?? "a redirect target"), a redirect target; credentials are sent only to \(endpoint.host)",
          kind: .unauthorized)
      case 401 where !answeredChallenge:
        answeredChallenge = true
        guard let challenge = AuthChallenge.parse(response.headers["WWW-Authenticate"]) else {
          throw await HostFailure.status(response)
        }
        _ = try? await response.body.collect(upTo: 64 * 1024)
        challenges.withLock { $0[endpoint.host] = challenge }
        authorization = try await authorizationHeader(endpoint: endpoint, image: image, credentials: credentials, challenge: challenge)
        if authorization == nil {
          throw HostFailure(
            answer:
              "401 Unauthorized: the registry requires credentials and none are configured for \(endpoint.host) (kubelet image pull secret or registry.configs.\"\(endpoint.host)\".auth)",
            kind: .unauthorized)
        }
        continue
      case 401:
        throw HostFailure(
          answer: "401 Unauthorized: \(effectiveCredentials(for: endpoint, credentials)?.description ?? "anonymous") rejected", kind: .unauthorized)
      default:
        return response
      }
    }
  }

  /// The credentials that apply to a host: the CRI's (kubelet's image pull secret) if given, else the
  /// configuration's for that host.
  private func effectiveCredentials(for endpoint: RegistryEndpoint, _ provided: RegistryCredentials?) -> RegistryCredentials? {
    if let provided, !provided.isEmpty { return provided }
    return configuredCredentials.withLock { $0[endpoint.host] }
  }

  private let configuredCredentials = Mutex<[String: RegistryCredentials]>([:])

  /// Installs the `registry.configs.*.auth` credentials (re-read with the configuration).
  public func setConfiguredCredentials(_ registry: CrispConfig.Registry) {
    var map: [String: RegistryCredentials] = [:]
    for (host, config) in registry.configs {
      guard let auth = config.auth else { continue }
      map[host] = RegistryCredentials(username: auth.username, password: auth.password, auth: auth.auth, identityToken: auth.identityToken)
    }
    configuredCredentials.withLock { $0 = map }
  }

  private func authorizationHeader(
    endpoint: RegistryEndpoint, image: ImageReference, credentials provided: RegistryCredentials?, challenge: AuthChallenge?
  ) async throws(HostFailure) -> String? {
    guard let challenge = challenge ?? challenges.withLock({ $0[endpoint.host] }) else { return nil }
    let credentials = effectiveCredentials(for: endpoint, provided)
    switch challenge.scheme {
    case .basic:
      return credentials?.basicHeader
    case .bearer:
      if let token = credentials?.registryToken, !token.isEmpty { return "Bearer \(token)" }
      guard let realm = challenge.realm else {
        throw HostFailure(answer: "the registry's Bearer challenge has no realm", kind: .other)
      }
      if let refusal = Self.realmRefusal(realm, endpoint: endpoint, sendsCredentials: credentials.map { !$0.isEmpty } ?? false) {
        throw HostFailure(answer: refusal, kind: .unauthorized)
      }
      let key = TokenCache.Key(
        realm: realm, service: challenge.parameters["service"] ?? "", scope: scope(image),
        identity: credentials.map { "\($0.username)\u{0}\($0.password.hashValue)\u{0}\($0.identityToken.hashValue)" } ?? "")
      do {
        let token = try await tokens.token(for: key) { [self] in
          try await self.fetchToken(key: key, endpoint: endpoint, credentials: credentials)
        }
        return "Bearer \(token)"
      } catch let failure as HostFailure {
        throw failure
      } catch {
        throw HostFailure(
          answer: "token request to \(realm.prefix(200)) failed: \(RegistryConnectionError.translate(error, url: realm, caFiles: endpoint.caFiles))",
          kind: .unauthorized)
      }
    }
  }

  /// Why a Bearer challenge's token realm is not asked, or nil: the realm comes from the registry's answer
  /// and is dialled by the node, so only http(s), and never plain http with credentials when the registry
  /// itself is https.
  static func realmRefusal(_ realm: String, endpoint: RegistryEndpoint, sendsCredentials: Bool) -> String? {
    let scheme = URLComponents(string: realm)?.scheme?.lowercased()
    guard scheme == "http" || scheme == "https", URLComponents(string: realm)?.host?.isEmpty == false else {
      return "the registry's token realm \"\(realm.prefix(200))\" is not an http(s) URL"
    }
    if scheme == "http" && !endpoint.isPlainHTTP && sendsCredentials {
      return "the registry's token realm \(realm.prefix(200)) is plain http while the registry is https: credentials are not sent in clear"
    }
    return nil
  }

  /// Asks the realm for a token: a refresh-token grant (POST form) with an identity token, else a GET with
  /// Basic credentials if there are any, else anonymously.
  private func fetchToken(key: TokenCache.Key, endpoint: RegistryEndpoint, credentials: RegistryCredentials?) async throws -> (String, Duration) {
    var components = URLComponents(string: key.realm)
    let client = client(dialTimeout: endpoint.dialTimeout)
    var request: HTTPClientRequest
    if let identity = credentials?.identityToken, !identity.isEmpty {
      request = HTTPClientRequest(url: key.realm)
      request.method = .POST
      var form = URLComponents()
      form.queryItems = [
        .init(name: "grant_type", value: "refresh_token"), .init(name: "refresh_token", value: identity),
        .init(name: "service", value: key.service), .init(name: "scope", value: key.scope), .init(name: "client_id", value: "crisp"),
      ]
      request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
      request.body = .bytes(ByteBuffer(string: form.percentEncodedQuery ?? ""))
    } else {
      var items = components?.queryItems ?? []
      if !key.service.isEmpty { items.append(.init(name: "service", value: key.service)) }
      items.append(.init(name: "scope", value: key.scope))
      components?.queryItems = items
      request = HTTPClientRequest(url: components?.string ?? key.realm)
      if let basic = credentials?.basicHeader { request.headers.add(name: "Authorization", value: basic) }
    }
    request.headers.add(name: "User-Agent", value: Self.userAgent)
    request.tlsConfiguration = try tlsConfiguration(endpoint)
    let response = try await client.execute(request, deadline: .distantFuture)
    let body = try await response.body.collect(upTo: 1 << 20)
    guard response.status == .ok else {
      throw HostFailure(answer: "token server \(key.realm) answered \(response.status.code) \(response.status.reasonPhrase)", kind: .unauthorized)
    }
    guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
      let token = (object["token"] as? String) ?? (object["access_token"] as? String), !token.isEmpty
    else {
      throw HostFailure(answer: "token server \(key.realm) sent no token", kind: .unauthorized)
    }
    // At least a minute, at most a day, whatever the server says.
    let lifetime = (object["expires_in"] as? Int).map { min(max($0, 60), 86_400) } ?? 60
    return (token, .seconds(lifetime))
  }

  private func tlsConfiguration(_ endpoint: RegistryEndpoint) throws(HostFailure) -> TLSConfiguration? {
    guard !endpoint.isPlainHTTP else { return nil }
    var tls = TLSConfiguration.makeClientConfiguration()
    do {
      if !endpoint.caFiles.isEmpty {
        tls.additionalTrustRoots = try endpoint.caFiles.map { .certificates(try NIOSSLCertificate.fromPEMFile($0)) }
      }
      if let pair = endpoint.clientPairs.first {
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(pair.certificate).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: pair.key.isEmpty ? pair.certificate : pair.key, format: .pem))
      }
    } catch {
      // Said in words (which file, missing or not PEM), not as NIOSSL's error value.
      var settings = HostsFile.HostSettings()
      settings.caFiles = endpoint.caFiles
      settings.clientPairs = Array(endpoint.clientPairs.prefix(1))
      let reason = RegistryTLSFiles.problems(settings).first ?? "cannot be loaded"
      throw HostFailure(
        answer: "TLS files for \(endpoint.host): \(reason)", kind: .fatal(CrispError.failedPrecondition("TLS files for \(endpoint.host): \(reason)")))
    }
    if endpoint.skipVerify { tls.certificateVerification = .none }
    return tls
  }
}
