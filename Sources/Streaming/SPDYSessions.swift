import SPDY
import CLinux
import CrispCore
import Foundation
import NIOCore
import Runtime

/// An exec or attach over SPDY: the client opens one stream per channel (named by the `streamtype` header);
/// once all the session needs are open, the command starts. Streams that do not arrive within the creation
/// timeout end the session.
final class SPDYCommandSession: SPDYApplication, SessionOutput, @unchecked Sendable {
  private let connection: SPDYConnection
  private let version: RemoteCommandVersion
  private let options: StreamOptions
  private let backend: any CommandBackend
  private let expected: Set<CommandStream>
  // Event-loop state.
  private var streams: [CommandStream: UInt32] = [:]
  private var kinds: [UInt32: CommandStream] = [:]
  private var started = false
  private let input: CommandInput
  /// Stream ids by kind, readable from the command's threads once started (set before start, then fixed).
  private let fixedStreams = LockedBox<[CommandStream: UInt32]>([:])

  init(connection: SPDYConnection, version: RemoteCommandVersion, options: StreamOptions, backend: any CommandBackend, creationTimeout: TimeAmount) {
    self.connection = connection
    self.version = version
    self.options = options
    self.backend = backend
    expected = CommandStream.expected(options, version)
    input = CommandInput(flow: connection.inputFlow)
    connection.eventLoop.scheduleTask(in: creationTimeout) { [weak self] in
      guard let self, !self.started else { return }
      // The client never opened its streams: nothing was started, so hanging up is all there is to do.
      self.connection.close()
    }
  }

  func streamOpened(_ id: UInt32, headers: SPDYHeaders) -> Bool {
    guard !started, let kind = headers["streamtype"].flatMap(CommandStream.init(name:)), expected.contains(kind), streams[kind] == nil else {
      return false
    }
    streams[kind] = id
    kinds[id] = kind
    if Set(streams.keys) == expected { start() }
    return true
  }

  func streamData(_ id: UInt32, _ bytes: [UInt8]) {
    switch kinds[id] {
    case .stdin: input.stdin(bytes)
    case .resize: input.resize(bytes)
    default: break
    }
  }

  func streamClosed(_ id: UInt32, reset: Bool) {
    if kinds[id] == .stdin { input.closeStdin() }
  }

  func connectionClosed() {
    input.disconnected()
  }

  private func start() {
    started = true
    fixedStreams.set(streams)
    backend.start(options: options, version: version, output: self, input: input.stream)
  }

  // MARK: SessionOutput (any thread)

  func writeWaiting(_ stream: CommandStream, _ bytes: [UInt8]) -> Bool {
    guard let id = fixedStreams.get()[stream] else { return true }  // a stream the client did not ask for
    if bytes.isEmpty { return true }
    return connection.writeWaiting(id, bytes)
  }

  func finish() {
    for id in fixedStreams.get().values { connection.finishStream(id) }
    connection.eventLoop.execute { self.input.finish() }
    connection.close()
  }

  func inputConsumed(_ count: Int) { connection.inputFlow.consumed(count) }
}

/// Port forwarding over SPDY (`portforward.k8s.io`): for each forwarded connection the client opens an
/// error stream and a data stream with the same `requestid` and a `port`; crisp dials the port inside the
/// pod's network namespace and copies bytes both ways. A failed dial is written to the error stream; when
/// the pod closes the connection both streams are finished, which is what the client waits for; when the
/// client resets a stream, the connection into the pod is ended. A session holds at most
/// ``PortForwardLimits/connections`` connections: the next one's error stream says so and its data stream is
/// refused.
final class SPDYPortForwardSession: SPDYApplication, @unchecked Sendable {
  private let connection: SPDYConnection
  private let target: PortForwardTarget
  private let allowedPorts: [Int32]
  private final class Pair {
    var error: UInt32?
    var data: UInt32?
    let port: UInt16
    var socket: ForwardSocket?
    /// What the client sent before the dial finished (counted in the flow), its size, and whether the client
    /// has finished sending.
    var early: [[UInt8]] = []
    var earlyBytes = 0
    var clientDone = false
    /// Given up on (an error was reported): a dial that completes after is closed.
    var failed = false
    init(port: UInt16) { self.port = port }
  }
  // Event-loop state.
  private var pairs: [String: Pair] = [:]
  private var requestOf: [UInt32: String] = [:]
  private var closed = false
  private var flow: InputFlow { connection.inputFlow }

  init(connection: SPDYConnection, target: PortForwardTarget, ports: [Int32]) {
    self.connection = connection
    self.target = target
    allowedPorts = ports
  }

  func streamOpened(_ id: UInt32, headers: SPDYHeaders) -> Bool {
    guard let type = headers["streamtype"], type == "error" || type == "data",
      let portText = headers["port"], portText.utf8.count <= 5, let port = UInt16(portText), port > 0
    else { return false }
    // kubelet passes the ports the request named; when it named some, only those may be dialled.
    if !allowedPorts.isEmpty && !allowedPorts.contains(Int32(port)) { return false }
    let request = headers["requestid"] ?? "port-\(port)"
    guard request.utf8.count <= PortForwardLimits.requestIDLength else { return false }
    let pair: Pair
    if let existing = pairs[request] {
      pair = existing
    } else {
      guard pairs.count < PortForwardLimits.connections else {
        // Over the cap: the error stream carries the reason (then ends); a data stream is refused.
        guard type == "error" else { return false }
        let text =
          "error forwarding port \(port) to pod \(target.sandboxID): this port-forward session already holds "
          + "\(PortForwardLimits.connections) connections, the most one session may; close one or open another session"
        // Written once the SYN_REPLY is out, without a thread: a client opening many gets replies only as fast
        // as it reads them (the connection stops handling frames while its socket is full).
        connection.eventLoop.execute { self.connection.sendNow(id, Array(text.utf8), fin: true) }
        return true
      }
      pair = Pair(port: port)
    }
    if type == "error" {
      guard pair.error == nil else { return false }
      pair.error = id
    } else {
      guard pair.data == nil else { return false }
      pair.data = id
    }
    pairs[request] = pair
    requestOf[id] = request
    if type == "data" { dial(request, pair, port: port, dataStream: id) }
    return true
  }

  private func dial(_ request: String, _ pair: Pair, port: UInt16, dataStream: UInt32) {
    let netns = target.netns
    let loop = connection.eventLoop
    let identity = ObjectIdentifier(pair)
    Task.detached {
      let result = await PodDialer.dial(port: port, netns: netns)
      loop.execute { self.dialed(request, identity, port: port, dataStream: dataStream, result) }
    }
  }

  private func current(_ request: String, _ identity: ObjectIdentifier) -> Pair? {
    pairs[request].flatMap { ObjectIdentifier($0) == identity ? $0 : nil }
  }

  private func dialed(_ request: String, _ identity: ObjectIdentifier, port: UInt16, dataStream: UInt32, _ result: PodDialer.Outcome) {
    // The pair may be gone (the connection closed, or the client reset it, while dialling): then the new
    // socket is closed at once.
    let pair = current(request, identity)
    switch result {
    case .failure(let message):
      guard let pair else { return }
      fail(request, pair, "error forwarding port \(port) to pod \(target.sandboxID): \(message)")
    case .success(let fd):
      guard !closed, let pair, !pair.failed else {
        close(fd)
        return
      }
      let socket = ForwardSocket(fd: fd, flow: flow)
      pair.socket = socket
      for bytes in pair.early {
        // Handed from the early count to the socket's own.
        socket.write(bytes)
        flow.consumed(bytes.count)
      }
      pair.early = []
      pair.earlyBytes = 0
      if pair.clientDone { socket.finishWriting() }
      let connection = connection
      socket.startReading(deliver: { connection.writeWaiting(dataStream, $0) }, onEnd: { self.finished(request, identity) })
    }
  }

  /// Writes `message` on the pair's error stream, then finishes both streams.
  private func fail(_ request: String, _ pair: Pair, _ message: String) {
    pair.failed = true
    if let errorStream = pair.error { connection.sendNow(errorStream, Array(message.utf8), fin: false) }
    finished(request, ObjectIdentifier(pair))
  }

  private func dropEarly(_ pair: Pair) {
    for bytes in pair.early { flow.consumed(bytes.count) }
    pair.early = []
    pair.earlyBytes = 0
  }

  /// The pod closed the connection (or it was never made): finish both streams and forget the pair.
  private func finished(_ request: String, _ identity: ObjectIdentifier) {
    connection.eventLoop.execute {
      guard let pair = self.current(request, identity) else { return }
      self.pairs[request] = nil
      pair.socket?.abort()
      self.dropEarly(pair)
      for id in [pair.data, pair.error].compactMap({ $0 }) {
        self.connection.finishStream(id)
        self.requestOf[id] = nil
      }
    }
  }

  func streamData(_ id: UInt32, _ bytes: [UInt8]) {
    guard let request = requestOf[id], let pair = pairs[request], pair.data == id else { return }
    if let socket = pair.socket {
      socket.write(bytes)
    } else if !pair.clientDone {
      // Still dialling: kept until the connection is up, within the session's flow and this pair's cap.
      guard bytes.count <= PortForwardLimits.earlyBytes - pair.earlyBytes else {
        dropEarly(pair)
        pair.clientDone = true
        fail(
          request, pair,
          "error forwarding port \(pair.port) to pod \(target.sandboxID): more than \(PortForwardLimits.earlyBytes) bytes "
            + "sent before the connection to the port was made")
        return
      }
      flow.received(bytes.count)
      pair.early.append(bytes)
      pair.earlyBytes += bytes.count
    }
  }

  func streamClosed(_ id: UInt32, reset: Bool) {
    guard let request = requestOf[id], let pair = pairs[request], pair.data == id else { return }
    if reset {
      // The client gave up on this connection (client-go resets its streams once the local connection is
      // done): end it now, the pod may never close its side.
      pair.failed = true
      finished(request, ObjectIdentifier(pair))
      return
    }
    if let socket = pair.socket { socket.finishWriting() } else { pair.clientDone = true }
  }

  func connectionClosed() {
    closed = true
    // Shutting the sockets down ends their readers, which then close them.
    for pair in pairs.values {
      pair.socket?.abort()
      dropEarly(pair)
    }
    pairs.removeAll()
    requestOf.removeAll()
  }
}

/// One forwarded TCP connection into a pod. Writes run in order on a queue of its own (a pod that stops
/// reading holds up only this connection); `abort` works from any thread; the descriptor is closed exactly
/// once, after its reader has finished, so no thread ever uses a number that was closed and reused.
final class ForwardSocket: @unchecked Sendable {
  private let fd: Int32
  private let queue = DispatchQueue(label: "crisp.portforward.socket")
  private let lock = NSLock()
  private var isClosed = false
  private let flow: InputFlow

  init(fd: Int32, flow: InputFlow) {
    self.fd = fd
    self.flow = flow
  }

  func write(_ bytes: [UInt8]) {
    flow.received(bytes.count)
    queue.async {
      if !self.lock.withLock({ self.isClosed }) { _ = writeFully(self.fd, bytes) }
      self.flow.consumed(bytes.count)
    }
  }

  /// The client finished sending: the pod sees end of input once what is queued is written.
  func finishWriting() {
    queue.async { self.lock.withLock { if !self.isClosed { _ = shutdown(self.fd, Int32(SHUT_WR)) } } }
  }

  /// Ends the connection now: unblocks a write the pod is not reading and the reader.
  func abort() {
    lock.withLock { if !isClosed { _ = shutdown(fd, Int32(SHUT_RDWR)) } }
  }

  /// Copies what the pod sends to `deliver` until it closes (or `deliver` refuses), then runs `onEnd` and
  /// closes the socket after the queued writes.
  func startReading(deliver: @escaping @Sendable ([UInt8]) -> Bool, onEnd: @escaping @Sendable () -> Void) {
    OutputPump.start(
      fd, closing: false, deliver: deliver,
      onEnd: {
        onEnd()
        self.queue.async {
          self.lock.withLock {
            guard !self.isClosed else { return }
            self.isClosed = true
            close(self.fd)
          }
        }
      }, onRefused: { self.abort() })
  }
}

/// A small lock-protected value for state written once on the event loop and read from threads.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Value

  init(_ value: Value) { self.value = value }

  func get() -> Value { lock.withLock { value } }
  func set(_ newValue: Value) { lock.withLock { value = newValue } }
}

/// Dials a port on a pod's loopback from inside its network namespace.
enum PodDialer {
  enum Outcome: Sendable {
    case success(Int32)
    case failure(String)
  }

  static func dial(port: UInt16, netns: String?) async -> Outcome {
    await onDedicatedThread {
      var fd: Int32 = -1
      let status = netns.map { crisp_dial_loopback($0, port, &fd) } ?? crisp_dial_loopback(nil, port, &fd)
      return status == 0 ? .success(fd) : .failure("dial tcp localhost:\(port): \(String(cString: strerror(status)))")
    }
  }
}
