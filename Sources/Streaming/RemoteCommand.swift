import CrispCore
import Foundation
import NIOCore

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

/// The client's input to a command session, whatever its transport. Stdin and resizes are counted in the
/// session's ``InputFlow`` (so reading pauses while the command lags behind; the backend reports each one
/// handled with ``SessionOutput/inputConsumed(_:)``), empty stdin messages are dropped, and the ends of stdin
/// and of the client are passed on once however often a client repeats them. Event-loop confined; the stream
/// is the backend's.
final class CommandInput: @unchecked Sendable {
  let stream: AsyncStream<ClientInput>
  private let sink: AsyncStream<ClientInput>.Continuation
  private let flow: InputFlow
  private var resize = ResizeDecoder()
  private var stdinClosed = false

  init(flow: InputFlow) {
    self.flow = flow
    // Unbounded by policy, bounded by the flow: reading stops once enough waits here.
    (stream, sink) = AsyncStream.makeStream(of: ClientInput.self, bufferingPolicy: .unbounded)
  }

  func stdin(_ bytes: [UInt8]) {
    guard !bytes.isEmpty else { return }
    flow.received(bytes.count)
    sink.yield(.stdin(bytes))
  }

  func resize(_ bytes: [UInt8]) {
    guard let (width, height) = resize.feed(bytes) else { return }
    flow.received(0)
    sink.yield(.resize(width: width, height: height))
  }

  func closeStdin() {
    guard !stdinClosed else { return }
    stdinClosed = true
    sink.yield(.stdinClosed)
  }

  /// The client is gone: the command is ended.
  func disconnected() {
    sink.yield(.disconnected)
    sink.finish()
  }

  /// The session is over: no more input.
  func finish() { sink.finish() }
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

/// Backpressure for client input: reading from the client stops while more than ``high`` bytes, or more than
/// ``highMessages`` messages, of its input wait to be handled (a container reading its stdin slowly, a pod not
/// reading a forwarded connection, a flood of tiny messages each costing more than its bytes) and resumes once
/// both are under their low marks. Input is never dropped and never piles up without bound. Each
/// ``received(_:)`` is one message and is matched by exactly one ``consumed(_:)`` of the same size.
final class InputFlow: @unchecked Sendable {
  static let high = 1 << 20
  static let low = 256 << 10
  static let highMessages = 1024
  static let lowMessages = 256
  private let lock = NSLock()
  private var pendingBytes = 0
  private var pendingMessages = 0
  private var paused = false
  private var onChange: (@Sendable () -> Void)?

  init() {}

  /// Runs `onChange` (on the thread that changed it) whenever ``isPaused`` flips.
  func observe(_ onChange: @escaping @Sendable () -> Void) { lock.withLock { self.onChange = onChange } }

  /// Whether reading should stop now.
  var isPaused: Bool { lock.withLock { paused } }

  /// One message of `count` bytes is held for the command or the pod.
  func received(_ count: Int) {
    let notify = lock.withLock { () -> (@Sendable () -> Void)? in
      pendingBytes += count
      pendingMessages += 1
      guard !paused, pendingBytes > Self.high || pendingMessages > Self.highMessages else { return nil }
      paused = true
      return onChange
    }
    notify?()
  }

  /// One message of `count` bytes was handled (written, discarded or dropped with its connection).
  func consumed(_ count: Int) {
    let notify = lock.withLock { () -> (@Sendable () -> Void)? in
      pendingBytes -= count
      pendingMessages -= 1
      guard paused, pendingBytes < Self.low, pendingMessages < Self.lowMessages else { return nil }
      paused = false
      return onChange
    }
    notify?()
  }
}

/// Whether a streaming connection reads from its peer: not while crisp holds enough of the peer's input (its
/// ``InputFlow``), nor while the connection cannot take crisp's own writes (the peer is not reading them; NIO's
/// write watermarks). Whatever a peer sends then waits in its socket, not in crisp's memory, and replies crisp
/// owes it (pongs, PING echoes, WINDOW_UPDATEs) stop being generated.
final class ReadGate: @unchecked Sendable {
  let flow = InputFlow()
  private let loop: any EventLoop
  // Event-loop state.
  private var channel: (any Channel)?
  private var reading = true

  init(eventLoop: any EventLoop) {
    loop = eventLoop
    flow.observe { [weak self] in self?.changed() }
  }

  /// The connection to govern (called on its event loop once the handler is in the pipeline).
  func attach(_ channel: any Channel) {
    self.channel = channel
    update()
  }

  /// Re-evaluates the gate; on the event loop (after a writability change, or from ``changed()``).
  func update() {
    guard let channel else { return }
    let wanted = !flow.isPaused && channel.isWritable
    guard wanted != reading else { return }
    reading = wanted
    // On the loop the option is applied at once; turning reading on also asks for the next read.
    channel.setOption(ChannelOptions.autoRead, value: wanted).whenFailure { _ in }
  }

  /// From any thread: the flow changed. The gate reads the flow's state when it runs, so hops that arrive out
  /// of order still end in the right state.
  private func changed() {
    loop.execute { self.update() }
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

/// Splits the resize stream (a sequence of JSON objects `{"Width":…,"Height":…}`) into sizes. Only the latest
/// size of what arrived matters to a terminal, so a feed yields at most one (a message packed with thousands of
/// objects costs one decode), and an unfinished object longer than ``maximumPending`` is dropped.
struct ResizeDecoder {
  private var pending: [UInt8] = []
  static let maximumPending = 4096

  mutating func feed(_ bytes: [UInt8]) -> (UInt16, UInt16)? {
    pending += bytes
    var latest: (UInt16, UInt16)?
    // The last complete object, found from the end: one pass over the bytes, whatever their count.
    if let close = pending.lastIndex(of: UInt8(ascii: "}")) {
      if let open = pending[..<close].lastIndex(of: UInt8(ascii: "{")),
        let size = try? JSONDecoder().decode(TerminalSize.self, from: Data(pending[open...close]))
      {
        latest = (size.width, size.height)
      }
      pending.removeSubrange(...close)
    }
    if pending.count > Self.maximumPending { pending.removeAll() }
    return latest
  }

  private struct TerminalSize: Decodable {
    var width: UInt16
    var height: UInt16
    enum CodingKeys: String, CodingKey {
      case width = "Width", height = "Height"
    }
  }
}
