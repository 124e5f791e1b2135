import TOMLKit

/// A containerd-style `hosts.toml` (`<config_path>/<registry host>/hosts.toml`): the ordered mirrors to try
/// for one registry and how to talk to each.
///
/// crisp reads the same files containerd does, so an operator moving a node keeps `/etc/containerd/certs.d`
/// as it is. The file is parsed strictly (unknown keys and wrong types are errors naming file and line) and
/// re-read on every pull, so edits apply without a restart.
public struct HostsFile: Sendable, Equatable {
  /// The registry's own endpoint (`server`), tried after every `[host]`; `nil` means the default for the
  /// registry (`https://<host>`, or Docker Hub's API host for docker.io).
  public var server: String?
  /// Settings from the top level of the file, which apply to `server`.
  public var serverSettings: HostSettings
  /// `[host."<url>"]` tables in file order.
  public var hosts: [Host]

  public struct Host: Sendable, Equatable {
    public var url: String
    public var settings: HostSettings
  }

  public struct HostSettings: Sendable, Equatable {
    /// `pull`, `resolve`, `push`; `nil` means all of them.
    public var capabilities: [String]?
    /// CA certificate files (PEM) trusted in addition to the system's.
    public var caFiles: [String] = []
    /// Client certificate and key files; an empty key means the certificate file holds both.
    public var clientPairs: [ClientPair] = []
    public var skipVerify: Bool = false
    /// Extra request headers.
    public var headers: [String: [String]] = [:]
    /// The URL's path is the API root as-is (no `/v2` appended).
    public var overridePath: Bool = false
    /// Connection timeout for this endpoint; `nil` means the default.
    public var dialTimeout: TimeSpan?

    public init() {}
  }

  public struct ClientPair: Sendable, Equatable {
    public var certificate: String
    public var key: String

    public init(certificate: String, key: String) {
      self.certificate = certificate
      self.key = key
    }
  }

  /// Parses `text` read from `path`; relative file names in it are resolved against its directory.
  public static func parse(_ text: String, path: String) throws(ConfigError) -> HostsFile {
    var reader = try parseTOML(text, source: path)
    let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    var file = HostsFile(server: nil, serverSettings: HostSettings(), hosts: [])
    if let server = try reader.string("server") {
      guard server.hasPrefix("http://") || server.hasPrefix("https://") else {
        throw reader.error("server", "\(tomlQuoted(server)) must start with http:// or https://")
      }
      file.server = server
    }
    file.serverSettings = try readSettings(&reader, directory: directory)
    if var hosts = try reader.table("host") {
      for url in hosts.keysInFileOrder {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
          throw hosts.error(url, "a host key is a URL starting with http:// or https://")
        }
        guard var table = try hosts.table(url) else { continue }
        let settings = try readSettings(&table, directory: directory)
        try table.finish()
        file.hosts.append(Host(url: url, settings: settings))
      }
      try hosts.finish()
    }
    try reader.finish()
    return file
  }

  private static func readSettings(_ r: inout TableReader, directory: String) throws(ConfigError) -> HostSettings {
    func resolve(_ file: String) -> String { file.hasPrefix("/") || directory.isEmpty ? file : directory + "/" + file }
    var settings = HostSettings()
    if let capabilities = try r.stringArray("capabilities") {
      for capability in capabilities where !["pull", "resolve", "push"].contains(capability) {
        throw r.error("capabilities", "unknown capability \(tomlQuoted(capability)) (pull, resolve, push)")
      }
      settings.capabilities = capabilities
    }
    if let ca = try r.stringOrStringArray("ca") { settings.caFiles = ca.map(resolve) }
    if let client = try r.clientPairs("client") {
      settings.clientPairs = client.map { ClientPair(certificate: resolve($0.certificate), key: $0.key.isEmpty ? "" : resolve($0.key)) }
    }
    if let skip = try r.bool("skip_verify") { settings.skipVerify = skip }
    if let override = try r.bool("override_path") { settings.overridePath = override }
    if let timeout = try r.duration("dial_timeout") { settings.dialTimeout = timeout }
    if var headers = try r.table("header") {
      for name in headers.keysInFileOrder {
        guard let values = try headers.stringOrStringArray(name) else { continue }
        settings.headers[name] = values
      }
      try headers.finish()
    }
    return settings
  }
}

extension TableReader {
  /// A string, or an array of strings (hosts.toml allows either for `ca` and header values).
  mutating func stringOrStringArray(_ key: String) throws(ConfigError) -> [String]? {
    guard let raw = table[key] else { return nil }
    if raw.tomlValue.type == .string { return try string(key).map { [$0] } }
    return try stringArray(key)
  }

  /// `client`: `"cert-and-key.pem"`, `["cert", "key"]`, or `[["cert", "key"], …]`.
  mutating func clientPairs(_ key: String) throws(ConfigError) -> [HostsFile.ClientPair]? {
    guard let raw = table[key] else { return nil }
    let value = raw.tomlValue
    if value.type == .string, let single = try string(key) { return [.init(certificate: single, key: "")] }
    skip(key)
    guard value.type == .array, let array = value.array else {
      throw error(key, "expected a file name, a [certificate, key] pair or a list of pairs")
    }
    let elements = array.map(\.tomlValue)
    if elements.allSatisfy({ $0.type == .string }) {
      let files = elements.compactMap(\.string)
      guard files.count == 2 else { throw error(key, "a [certificate, key] pair has two file names") }
      return [.init(certificate: files[0], key: files[1])]
    }
    var pairs: [HostsFile.ClientPair] = []
    for element in elements {
      guard element.type == .array, let inner = element.array?.map(\.tomlValue), inner.count == 2,
        let certificate = inner[0].string, let key = inner[1].string
      else { throw error(key, "each element must be a [certificate, key] pair of strings") }
      pairs.append(.init(certificate: certificate, key: key))
    }
    return pairs
  }
}
