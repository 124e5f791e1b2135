public import Config
public import CrispCore
import Foundation

/// One place to fetch an image from: a mirror or the registry itself, with how to talk to it.
public struct RegistryEndpoint: Sendable, Equatable, CustomStringConvertible {
  /// `https://mirror.example.com` — scheme and authority only.
  public var origin: String
  /// The API root path: `/v2` unless `override_path` kept the configured path as it is.
  public var apiRoot: String
  /// `host[:port]`, for credentials and logs.
  public var host: String
  /// A mirror, not the registry the image is named after: its requests carry `?ns=<registry>`.
  public var isMirror: Bool
  public var canResolve: Bool
  public var canPull: Bool
  public var caFiles: [String]
  public var clientPairs: [HostsFile.ClientPair]
  public var skipVerify: Bool
  public var headers: [String: [String]]
  public var dialTimeout: TimeSpan?
  /// HTTPS first, and the same request over plain HTTP when the server does not answer TLS: only for a
  /// registry on the node itself whose scheme nobody configured (see ``LoopbackHost``). Decided per
  /// request, never remembered, so a registry that later gains TLS is used over TLS.
  public var plainHTTPFallback: Bool = false

  public var isPlainHTTP: Bool { origin.hasPrefix("http://") }
  public var description: String { origin + (apiRoot == "/v2" ? "" : apiRoot) }

  /// An endpoint for a registry URL used as is (benchmarks, tools).
  public static func direct(_ url: String) throws(CrispError) -> RegistryEndpoint {
    try RegistryEndpoint(url: url, isMirror: false, settings: HostsFile.HostSettings(), source: "endpoint")
  }

  /// This endpoint over plain HTTP (same host and port), without further fallback.
  public func overPlainHTTP() -> RegistryEndpoint {
    var plain = self
    plain.origin = "http://\(host)"
    plain.plainHTTPFallback = false
    plain.caFiles = []
    plain.clientPairs = []
    return plain
  }

  /// Builds an endpoint from a configured URL (`https://host[:port][/path]`).
  init(url: String, isMirror: Bool, settings: HostsFile.HostSettings, source: String) throws(CrispError) {
    guard let components = URLComponents(string: url), let scheme = components.scheme, scheme == "http" || scheme == "https",
      let hostName = components.host, !hostName.isEmpty
    else {
      throw CrispError.invalidArgument("\(source): \"\(url)\" is not an http(s) URL")
    }
    // An IPv6 literal in brackets: URLComponents keeps them on some platforms, drops them on others.
    let hostPart = hostName.contains(":") && !hostName.hasPrefix("[") ? "[\(hostName)]" : hostName
    host = components.port.map { "\(hostPart):\($0)" } ?? hostPart
    origin = "\(scheme)://\(host)"
    var path = components.path
    while path.hasSuffix("/") { path.removeLast() }
    if settings.overridePath {
      apiRoot = path
    } else {
      apiRoot = path.hasSuffix("/v2") ? path : path + "/v2"
    }
    self.isMirror = isMirror
    let capabilities = settings.capabilities ?? ["pull", "resolve", "push"]
    canResolve = capabilities.contains("resolve")
    canPull = capabilities.contains("pull")
    caFiles = settings.caFiles
    clientPairs = settings.clientPairs
    skipVerify = settings.skipVerify
    headers = settings.headers
    dialTimeout = settings.dialTimeout
  }
}

/// Decides, for one registry, the ordered list of endpoints a pull tries: containerd's two configuration
/// forms, read fresh on every pull.
public struct HostResolver: Sendable {
  public let registry: CrispConfig.Registry

  public init(registry: CrispConfig.Registry) {
    self.registry = registry
  }

  /// The registry's own default endpoint: Docker Hub's API host for docker.io, else `https://<host>`.
  static func defaultServer(for domain: String) -> String {
    domain == "docker.io" ? "https://registry-1.docker.io" : "https://\(domain)"
  }

  public func endpoints(for domain: String) throws(CrispError) -> [RegistryEndpoint] {
    if !registry.mirrors.isEmpty || registry.configPath.isEmpty {
      return try inlineEndpoints(for: domain)
    }
    guard let (file, path) = try hostsFile(for: domain) else {
      return try inlineEndpoints(for: domain)
    }
    var result: [RegistryEndpoint] = []
    for host in file.hosts {
      result.append(try RegistryEndpoint(url: host.url, isMirror: true, settings: host.settings, source: path))
    }
    let server = file.server ?? Self.defaultServer(for: domain)
    var serverEndpoint = try RegistryEndpoint(url: server, isMirror: false, settings: file.serverSettings, source: path)
    // A `server` that is itself another registry (the `_default` file, say) still answers for this one.
    // No `server`: the registry's own default, where a registry on the node may be plain HTTP.
    if file.server == nil { serverEndpoint.plainHTTPFallback = LoopbackHost.fallsBackToPlainHTTP(domain) }
    if file.server != nil && serverEndpoint.host != domain && !(domain == "docker.io" && serverEndpoint.host == "registry-1.docker.io") {
      serverEndpoint.isMirror = true
    }
    result.append(serverEndpoint)
    return result
  }

  /// The inline form: `registry.mirrors."<host>".endpoint` in order, then the registry itself (unless it is
  /// already listed), with TLS from `registry.configs."<endpoint host>".tls`.
  private func inlineEndpoints(for domain: String) throws(CrispError) -> [RegistryEndpoint] {
    var urls = registry.mirrors[domain]?.endpoints ?? registry.mirrors["*"]?.endpoints ?? []
    let server = Self.defaultServer(for: domain)
    var result: [RegistryEndpoint] = []
    for url in urls {
      let host = URLComponents(string: url)?.host ?? ""
      var settings = HostsFile.HostSettings()
      if let tls = registry.configs[hostWithPort(url) ?? host]?.tls ?? registry.configs[host]?.tls {
        if !tls.caFile.isEmpty { settings.caFiles = [tls.caFile] }
        if !tls.certFile.isEmpty { settings.clientPairs = [.init(certificate: tls.certFile, key: tls.keyFile)] }
        settings.skipVerify = tls.insecureSkipVerify
      }
      var endpoint = try RegistryEndpoint(url: url, isMirror: true, settings: settings, source: "registry.mirrors.\"\(domain)\"")
      if endpoint.host == domain || (domain == "docker.io" && endpoint.host == "registry-1.docker.io") {
        endpoint.isMirror = false
      }
      result.append(endpoint)
    }
    if !result.contains(where: { !$0.isMirror }) {
      urls = [server]
      var settings = HostsFile.HostSettings()
      if let tls = registry.configs[domain]?.tls {
        if !tls.caFile.isEmpty { settings.caFiles = [tls.caFile] }
        if !tls.certFile.isEmpty { settings.clientPairs = [.init(certificate: tls.certFile, key: tls.keyFile)] }
        settings.skipVerify = tls.insecureSkipVerify
      }
      var endpoint = try RegistryEndpoint(url: server, isMirror: false, settings: settings, source: "registry")
      endpoint.plainHTTPFallback = LoopbackHost.fallsBackToPlainHTTP(domain)
      result.append(endpoint)
    }
    return result
  }

  private func hostWithPort(_ url: String) -> String? {
    guard let components = URLComponents(string: url), let host = components.host else { return nil }
    return components.port.map { "\(host):\($0)" } ?? host
  }

  /// The hosts.toml that applies: `<dir>/<host_port_>` or `<dir>/<host[:port]>` in each configured
  /// directory, then `_default`. A directory without hosts.toml means the default endpoint.
  func hostsFile(for domain: String) throws(CrispError) -> (HostsFile, String)? {
    let directories = registry.configPath.split(separator: ":").map(String.init).filter { !$0.isEmpty }
    var names: [String] = []
    if let colon = domain.lastIndex(of: ":"), colon != domain.startIndex {
      names.append(domain[..<colon] + "_" + domain[domain.index(after: colon)...] + "_")
    }
    names.append(domain)
    for candidates in [names, ["_default"]] {
      for directory in directories {
        for name in candidates {
          let path = "\(directory)/\(name)/hosts.toml"
          if let file = try Self.readHostsFile(path) { return (file, path) }
        }
      }
    }
    return nil
  }

  /// One hosts.toml read and parsed as a pull reads it (regular file, at most 1 MiB); nil when absent.
  /// `crisp check` parses every file under `registry.config_path` with it.
  public static func readHostsFile(_ path: String) throws(CrispError) -> HostsFile? {
    let bytes: [UInt8]?
    do {
      bytes = try FilePath.readRegularFile(path, limit: 1 << 20)
    } catch {
      throw CrispError.failedPrecondition("\(path): \(error)")
    }
    guard let bytes else { return nil }
    do {
      return try HostsFile.parse(ConfigLoader.text(of: bytes, path: path), path: path)
    } catch {
      throw CrispError.invalidArgument("\(error)")
    }
  }
}
