public import CRIAPI
public import Foundation
import GRPCCore
public import GRPCNIOTransportHTTP2

/// Runs the real, built `crisp` binary on a private root, state and socket, as kubelet's node would, and
/// removes everything it made afterwards.
public final class DaemonHarness: @unchecked Sendable {
  public let directory: String
  public var root: String { directory + "/root" }
  public var state: String { directory + "/state" }
  public var socketPath: String { state + "/crisp.sock" }
  public var configPath: String { directory + "/config.toml" }
  public var cniConfDir: String { directory + "/net.d" }
  public var logPath: String { directory + "/daemon.log" }
  public private(set) var process: Process?
  /// Variables added to the daemon's environment (which is otherwise the test process's own).
  public var environment: [String: String] = [:]

  /// The directory holding the built products (the test bundle sits next to them).
  public static var productsDirectory: String {
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: executable).deletingLastPathComponent().path
  }

  public static var crispBinary: String { productsDirectory + "/crisp" }
  public static var crispctlBinary: String { productsDirectory + "/crispctl" }

  public init() throws {
    // Short: unix socket paths are limited to 107 bytes.
    directory = "/tmp/crisp-it-" + String(UUID().uuidString.prefix(8)).lowercased()
    try FileManager.default.createDirectory(atPath: cniConfDir, withIntermediateDirectories: true)
    try writeConfig("")
  }

  deinit {
    if let process {
      kill(process.processIdentifier, SIGKILL)
      _ = try? waitForExit(timeout: .seconds(10))
    }
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// Writes the daemon's config file: `extra` TOML, then the test's own CNI directory and `cni` keys.
  public func writeConfig(_ extra: String, cni: String = "") throws {
    let text = """
      \(extra)
      [cni]
      conf_dir = "\(cniConfDir)"
      \(cni)
      """
    try text.write(toFile: configPath, atomically: true, encoding: .utf8)
  }

  /// Starts crisp and waits until its socket answers (or it exits).
  @discardableResult
  public func start(arguments: [String]? = nil, wait: Bool = true) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.crispBinary)
    process.arguments = arguments ?? ["--config", configPath, "--root", root, "--state", state, "--log-level", "debug"]
    if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    _ = try log.seekToEnd()
    process.standardError = log
    process.standardOutput = log
    var environment = ProcessInfo.processInfo.environment
    environment["SWIFT_BACKTRACE"] = Self.backtraceSetting
    environment.merge(self.environment) { _, added in added }
    process.environment = environment
    try process.run()
    self.process = process
    if wait { try waitUntilServing(process) }
    return process
  }

  /// What deploy/crisp.service sets: a trap or fatal signal writes every thread's backtrace to stderr
  /// (the daemon log here), so a test that crashes crisp shows where.
  public static var backtraceSetting: String {
    var setting = "enable=yes,interactive=no,color=no,output-to=stderr,threads=all,registers=none,images=mentioned"
    // A statically linked crisp needs the backtracer's path; a dynamically linked one finds it next to
    // the toolchain's runtime, but the explicit path does no harm.
    let candidates = ["/usr/local/libexec/crisp/swift-backtrace-static", "/opt/swift/usr/libexec/swift/linux/swift-backtrace-static"]
    if let backtracer = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
      setting += ",swift-backtrace=\(backtracer)"
    }
    return setting
  }

  public func waitUntilServing(_ process: Process, timeout: Duration = .seconds(30)) throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if !process.isRunning { throw HarnessError("crisp exited with \(process.terminationStatus): \(log)") }
      if Self.canConnect(socketPath) { return }
      usleep(20_000)
    }
    throw HarnessError("crisp did not serve on \(socketPath) within \(timeout): \(log)")
  }

  /// Runs crisp to completion (for invocations expected to fail) and returns its status and output.
  public func runToExit(_ arguments: [String], timeout: Duration = .seconds(30)) throws -> (status: Int32, output: String) {
    try Self.run(Self.crispBinary, arguments, timeout: timeout)
  }

  public static func run(_ binary: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Duration = .seconds(30)) throws -> (
    status: Int32, output: String
  ) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      while process.isRunning { usleep(5_000) }
      throw HarnessError("\(binary) \(arguments) did not exit within \(timeout)")
    }
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  public func signal(_ number: Int32) {
    guard let process else { return }
    kill(process.processIdentifier, number)
  }

  /// Waits for the daemon to exit and returns its status. Reaps it directly: Foundation's own child
  /// monitoring does not always notice an exit while the test runs.
  public func waitForExit(timeout: Duration = .seconds(30)) throws -> Int32 {
    guard let process else { throw HarnessError("not started") }
    let pid = process.processIdentifier
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      var status: Int32 = 0
      let reaped = waitpid(pid, &status, WNOHANG)
      if reaped == pid {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
      }
      if reaped < 0 && errno == ECHILD {
        if !process.isRunning { return process.terminationStatus }
        if kill(pid, 0) != 0 { return 0 }
      }
      usleep(10_000)
    }
    throw HarnessError("crisp did not exit within \(timeout)")
  }

  /// Stops the daemon (SIGTERM, then SIGKILL) if it runs.
  public func stop() {
    guard let process else { return }
    kill(process.processIdentifier, SIGTERM)
    if (try? waitForExit(timeout: .seconds(10))) == nil {
      kill(process.processIdentifier, SIGKILL)
      _ = try? waitForExit(timeout: .seconds(10))
    }
  }

  public static func canConnect(_ path: String) -> Bool {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
      }
    }
  }

  /// Calls the daemon through a generated gRPC client over its unix socket, as kubelet does.
  public func withClients<T: Sendable>(
    _ body:
      @Sendable (Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>, Runtime_V1_ImageService.Client<HTTP2ClientTransport.Posix>)
      async throws -> T
  ) async throws -> T {
    let transport = try HTTP2ClientTransport.Posix(target: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext)
    return try await withGRPCClient(transport: transport) { client in
      try await body(Runtime_V1_RuntimeService.Client(wrapping: client), Runtime_V1_ImageService.Client(wrapping: client))
    }
  }

  /// Calls crisp's AdminService over the same socket.
  public func withAdmin<T: Sendable>(_ body: @Sendable (Crisp_Admin_V1_AdminService.Client<HTTP2ClientTransport.Posix>) async throws -> T)
    async throws
    -> T
  {
    let transport = try HTTP2ClientTransport.Posix(target: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext)
    return try await withGRPCClient(transport: transport) { client in try await body(Crisp_Admin_V1_AdminService.Client(wrapping: client)) }
  }
}

public struct HarnessError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}
