public import Foundation

/// A background process the tests started (a registry, a token server, a proxy), killed by PID when the
/// harness goes away.
public final class BackgroundProcess: @unchecked Sendable {
  public let process: Process
  public let logPath: String

  public init(_ binary: String, _ arguments: [String], logPath: String) throws {
    process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    self.logPath = logPath
    _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    process.standardOutput = log
    process.standardError = log
    try process.run()
  }

  public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  public func stop() {
    guard process.isRunning else { return }
    kill(process.processIdentifier, SIGKILL)
    while process.isRunning { usleep(5_000) }
  }

  deinit { stop() }
}

/// Test environment helpers.
public enum TestEnvironment {
  /// The repository's Tests/Fixtures directory.
  public static var fixtures: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path
  }

  /// A free TCP port on 127.0.0.1 (bound and released; the caller binds it right away).
  public static func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    _ = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
  }

  /// Whether something accepts TCP connections on 127.0.0.1:`port`.
  public static func isListening(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
  }

  public static func waitForPort(_ port: Int, timeout: Duration = .seconds(20)) throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if isListening(port) { return }
      usleep(20_000)
    }
    throw HarnessError("nothing listens on 127.0.0.1:\(port) after \(timeout)")
  }

  /// Runs a command to completion, failing on a non-zero status.
  @discardableResult
  public static func shell(_ command: String, input: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    let stdin = Pipe()
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    while process.isRunning { usleep(2_000) }
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else { throw HarnessError("`\(command)` failed (\(process.terminationStatus)): \(text)") }
    return text
  }

  /// A fresh directory under /tmp, removed by the caller.
  public static func temporaryDirectory(_ prefix: String) throws -> String {
    let path = "/tmp/\(prefix)-" + String(UUID().uuidString.prefix(8)).lowercased()
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }
}

/// Debian's distribution registry (`docker-registry`) on 127.0.0.1 and a random port, with storage in a
/// temporary directory; optionally with htpasswd or token auth, or TLS.
public final class RegistryHarness: @unchecked Sendable {
  public enum Auth {
    case none
    case htpasswd(username: String, password: String)
    case token(realm: String, service: String, issuer: String, certificate: String)
  }

  public let directory: String
  public let storage: String
  public let port: Int
  public let tls: (certificate: String, key: String)?
  private var server: BackgroundProcess?

  public init(auth: Auth = .none, tls: (certificate: String, key: String)? = nil, storage: String? = nil) throws {
    directory = try TestEnvironment.temporaryDirectory("crisp-reg")
    self.storage = storage ?? directory + "/data"
    port = TestEnvironment.freePort()
    self.tls = tls
    var authYAML = ""
    switch auth {
    case .none: break
    case .htpasswd(let username, let password):
      try TestEnvironment.shell("htpasswd -Bbn '\(username)' '\(password)' > \(directory)/htpasswd")
      authYAML = "auth:\n  htpasswd:\n    realm: crisp-test\n    path: \(directory)/htpasswd\n"
    case .token(let realm, let service, let issuer, let certificate):
      authYAML = "auth:\n  token:\n    realm: \(realm)\n    service: \(service)\n    issuer: \(issuer)\n    rootcertbundle: \(certificate)\n"
    }
    var tlsYAML = ""
    if let tls { tlsYAML = "  tls:\n    certificate: \(tls.certificate)\n    key: \(tls.key)\n" }
    let config = """
      version: 0.1
      log:
        level: info
        accesslog:
          disabled: false
      storage:
        filesystem:
          rootdirectory: \(self.storage)
        delete:
          enabled: true
      http:
        addr: 127.0.0.1:\(port)
        secret: crisp-test-secret
      \(tlsYAML)\(authYAML)
      """
    try config.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
    server = try BackgroundProcess("/usr/bin/docker-registry", ["serve", directory + "/config.yml"], logPath: directory + "/registry.log")
    try TestEnvironment.waitForPort(port)
  }

  /// `127.0.0.1:<port>`: the registry's host as image references name it.
  public var host: String { "127.0.0.1:\(port)" }
  public var url: String { (tls == nil ? "http://" : "https://") + host }
  public var log: String { server?.log ?? "" }

  public func stop() { server?.stop() }

  deinit {
    server?.stop()
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// Pushes images built by Tests/Fixtures/ocibuild.py (see its spec) and returns what it reported.
  @discardableResult
  public func push(_ spec: [String: Any], through pushURL: String? = nil) throws -> PushedImage {
    var full = spec
    full["registry"] = pushURL ?? url
    let json = String(decoding: try JSONSerialization.data(withJSONObject: full), as: UTF8.self)
    let output = try TestEnvironment.shell("python3 \(TestEnvironment.fixtures)/ocibuild.py", input: json)
    guard let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
      throw HarnessError("ocibuild.py printed \(output)")
    }
    return PushedImage(
      top: object["top"] as? String ?? "", manifests: object["manifests"] as? [String] ?? [],
      configs: object["configs"] as? [String] ?? [], layers: object["layers"] as? [String] ?? [])
  }

  /// The file the registry stores a blob's bytes in.
  public func blobPath(_ digest: String) -> String {
    let hex = String(digest.dropFirst("sha256:".count))
    return "\(storage)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
  }
}

public struct PushedImage: Sendable {
  public var top: String
  public var manifests: [String]
  public var configs: [String]
  public var layers: [String]

  /// The image id crisp reports: the config digest.
  public var imageID: String { configs.first ?? "" }
}

/// A self-signed certificate and key for 127.0.0.1 (TLS registries, token signing).
public func makeCertificate(in directory: String, name: String, commonName: String = "127.0.0.1") throws -> (certificate: String, key: String) {
  let certificate = "\(directory)/\(name).crt", key = "\(directory)/\(name).key"
  try TestEnvironment.shell(
    "openssl req -x509 -newkey rsa:2048 -nodes -keyout \(key) -out \(certificate) -days 2 -subj /CN=\(commonName) -addext subjectAltName=IP:127.0.0.1 2>&1"
  )
  return (certificate, key)
}
