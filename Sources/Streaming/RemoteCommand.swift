import CrispCore
import Foundation

/// The remote-command subprotocols kubelet's clients offer, newest first (`X-Stream-Protocol-Version` for
/// SPDY, the websocket subprotocol otherwise).
enum RemoteCommandVersion: String, CaseIterable, Sendable {
  case v5 = "v5.channel.k8s.io"
  case v4 = "v4.channel.k8s.io"
  case v3 = "v3.channel.k8s.io"
  case v2 = "v2.channel.k8s.io"
  case v1 = "channel.k8s.io"

  /// From v4 on, the error stream carries a Kubernetes `Status` object with the exit code.
  var reportsStatus: Bool { self == .v4 || self == .v5 }
  /// From v3 on, a tty session has a resize stream.
  var hasResize: Bool { self != .v1 && self != .v2 }

  /// The first of the client's offers (in its order of preference) that crisp speaks.
  static func negotiate(_ offers: [String], among supported: [RemoteCommandVersion] = RemoteCommandVersion.allCases) -> RemoteCommandVersion? {
    for offer in offers {
      if let version = RemoteCommandVersion(rawValue: offer.trimmingCharacters(in: .whitespaces)), supported.contains(version) {
        return version
      }
    }
    return nil
  }
}

/// The streams of a command session. Their numbers are the websocket channel bytes; on SPDY they are named
/// by the `streamType` header.
enum CommandStream: UInt8, Sendable, CaseIterable {
  case stdin = 0, stdout = 1, stderr = 2, error = 3, resize = 4

  var name: String {
    switch self {
    case .stdin: "stdin"
    case .stdout: "stdout"
    case .stderr: "stderr"
    case .error: "error"
    case .resize: "resize"
    }
  }

  init?(name: String) {
    guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
    self = match
  }

  /// The streams a client opens for `options` under `version`. Every version has the error stream (v1
  /// carries a bare message on it).
  static func expected(_ options: StreamOptions, _ version: RemoteCommandVersion) -> Set<CommandStream> {
    var streams: Set<CommandStream> = [.error]
    if options.stdin { streams.insert(.stdin) }
    if options.stdout { streams.insert(.stdout) }
    if options.stderr && !options.tty { streams.insert(.stderr) }
    if options.tty && version.hasResize { streams.insert(.resize) }
    return streams
  }
}

/// What the client sends during a session, whatever the transport.
enum ClientInput: Sendable, Equatable {
  case stdin([UInt8])
  case stdinClosed
  case resize(width: UInt16, height: UInt16)
  /// The connection is gone (closed, reset, timed out): end the command.
  case disconnected
}

/// The server's half of a session: output goes to the client through it. Calls may come from any thread;
/// `writeWaiting` blocks until the transport has taken the bytes, so a fast producer is paced by the client.
protocol SessionOutput: Sendable {
  /// Returns false once the client is gone.
  func writeWaiting(_ stream: CommandStream, _ bytes: [UInt8]) -> Bool
  /// Ends the output streams and closes the connection.
  func finish()
  /// The command took `count` bytes of the client's input off its hands (written or discarded), so the
  /// transport may read more from the client (see ``InputFlow``).
  func inputConsumed(_ count: Int)
}

/// Backpressure for client input: reading from the client stops while more than ``high`` bytes of its input
/// wait to be written (a container reading its stdin slowly, a pod not reading a forwarded connection) and
/// resumes below ``low``. Input is never dropped and never piles up without bound.
final class InputFlow: @unchecked Sendable {
  static let high = 1 << 20
  static let low = 256 << 10
  private let lock = NSLock()
  private var pending = 0
  private var paused = false
  private let setReading: @Sendable (Bool) -> Void

  init(setReading: @escaping @Sendable (Bool) -> Void) { self.setReading = setReading }

  func received(_ count: Int) {
    let pause = lock.withLock { () -> Bool in
      pending += count
      guard !paused, pending > Self.high else { return false }
      paused = true
      return true
    }
    if pause { setReading(false) }
  }

  func consumed(_ count: Int) {
    let resume = lock.withLock { () -> Bool in
      pending -= count
      guard paused, pending < Self.low else { return false }
      paused = false
      return true
    }
    if resume { setReading(true) }
  }
}

extension CommandBackend {
  /// Runs the command for a session whatever its transport, then reports the outcome on the error stream
  /// and ends the session.
  func start(options: StreamOptions, version: RemoteCommandVersion, output: any SessionOutput, input: AsyncStream<ClientInput>) {
    Task.detached {
      let outcome = await self.run(options: options, output: output, input: input)
      // Blocking writes stay off the cooperative pool.
      await onDedicatedThread {
        _ = output.writeWaiting(.error, outcome.errorPayload(version))
        output.finish()
      }
    }
  }
}

/// How a command ended, as reported on the error stream.
enum CommandOutcome: Sendable, Equatable {
  case exited(Int32)
  case failed(String)

  /// The error-stream payload for `version`: a `Status` object from v4 on, else the bare message (empty for
  /// success, which older clients read as "no error").
  func errorPayload(_ version: RemoteCommandVersion) -> [UInt8] {
    if version.reportsStatus {
      let object: [String: Any]
      switch self {
      case .exited(0):
        object = ["metadata": [String: Any](), "status": "Success"]
      case .exited(let code):
        object = [
          "metadata": [String: Any](), "status": "Failure", "reason": "NonZeroExitCode",
          "message": "command terminated with non-zero exit code: exit status \(code)",
          "details": ["causes": [["reason": "ExitCode", "message": "\(code)"]]],
        ]
      case .failed(let message):
        object = ["metadata": [String: Any](), "status": "Failure", "message": message]
      }
      return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }
    switch self {
    case .exited(0): return []
    case .exited(let code): return Array("command terminated with non-zero exit code: exit status \(code)".utf8)
    case .failed(let message): return Array(message.utf8)
    }
  }
}

/// Splits the resize stream (a sequence of JSON objects `{"Width":…,"Height":…}`) into sizes.
struct ResizeDecoder {
  private var pending: [UInt8] = []

  mutating func feed(_ bytes: [UInt8]) -> [(UInt16, UInt16)] {
    pending += bytes
    var sizes: [(UInt16, UInt16)] = []
    while let open = pending.firstIndex(of: UInt8(ascii: "{")), let close = pending[open...].firstIndex(of: UInt8(ascii: "}")) {
      let object = Data(pending[open...close])
      pending.removeSubrange(..<(close + 1))
      if let size = try? JSONDecoder().decode(TerminalSize.self, from: object) { sizes.append((size.width, size.height)) }
    }
    if pending.count > 4096 { pending.removeAll() }
    return sizes
  }

  private struct TerminalSize: Decodable {
    var width: UInt16
    var height: UInt16
    enum CodingKeys: String, CodingKey {
      case width = "Width", height = "Height"
    }
  }
}
