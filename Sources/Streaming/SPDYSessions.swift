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
  private var resize = ResizeDecoder()
  private let input: AsyncStream<ClientInput>
  private let inputSink: AsyncStream<ClientInput>.Continuation
  /// Stream ids by kind, readable from the command's threads once started (set before start, then fixed).
  private let fixedStreams = LockedBox<[CommandStream: UInt32]>([:])

  init(connection: SPDYConnection, version: RemoteCommandVersion, options: StreamOptions, backend: any CommandBackend, creationTimeout: TimeAmount) {
    self.connection = connection
    self.version = version
    self.options = options
    self.backend = backend
    expected = CommandStream.expected(options, version)
    (input, inputSink) = AsyncStream.makeStream(of: ClientInput.self, bufferingPolicy: .bufferingNewest(1024))
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
    case .stdin: inputSink.yield(.stdin(bytes))
    case .resize:
      for (width, height) in resize.feed(bytes) { inputSink.yield(.resize(width: width, height: height)) }
    default: break
    }
  }

  func streamClosed(_ id: UInt32) {
    if kinds[id] == .stdin { inputSink.yield(.stdinClosed) }
  }

  func connectionClosed() {
    inputSink.yield(.disconnected)
    inputSink.finish()
  }

  private func start() {
    started = true
    fixedStreams.set(streams)
    let backend = backend, options = options, input = input, version = version
    Task.detached {
      let outcome = await backend.run(options: options, output: self, input: input)
      if version != .v1 { _ = self.writeWaiting(.error, outcome.errorPayload(version)) }
      self.finish()
    }
  }

  // MARK: SessionOutput (any thread)

  func writeWaiting(_ stream: CommandStream, _ bytes: [UInt8]) -> Bool {
    guard let id = fixedStreams.get()[stream] else { return true }  // a stream the client did not ask for
    if bytes.isEmpty { return true }
    return connection.writeWaiting(id, bytes)
  }

  func finish() {
    for id in fixedStreams.get().values { connection.finishStream(id) }
    inputSink.finish()
    connection.close()
  }
}

/// Port forwarding over SPDY (`portforward.k8s.io`): for each forwarded connection the client opens an
/// error stream and a data stream with the same `requestid` and a `port`; crisp dials the port inside the
/// pod's network namespace and copies bytes both ways. Failures are written to the error stream.
final class SPDYPortForwardSession: SPDYApplication, @unchecked Sendable {
  private let connection: SPDYConnection
  private let target: PortForwardTarget
  private let allowedPorts: [Int32]
  private struct Pair {
    var error: UInt32?
    var data: UInt32?
    var port: UInt16
    var socket: Int32 = -1
    /// What the client sent before the dial finished, and whether it has finished sending.
    var early: [[UInt8]] = []
    var clientDone = false
  }
  private var pairs: [String: Pair] = [:]
  private var requestOf: [UInt32: String] = [:]
  private let writers = DispatchQueue(label: "crisp.portforward.writes")

  init(connection: SPDYConnection, target: PortForwardTarget, ports: [Int32]) {
    self.connection = connection
    self.target = target
    allowedPorts = ports
  }

  func streamOpened(_ id: UInt32, headers: SPDYHeaders) -> Bool {
    guard let type = headers["streamtype"], type == "error" || type == "data",
      let portText = headers["port"], let port = UInt16(portText), port > 0 else { return false }
    // kubelet passes the ports the request named; when it named some, only those may be dialled.
    if !allowedPorts.isEmpty && !allowedPorts.contains(Int32(port)) { return false }
    let request = headers["requestid"] ?? "port-\(port)"
    var pair = pairs[request] ?? Pair(port: port)
    if type == "error" { pair.error = id } else { pair.data = id }
    pairs[request] = pair
    requestOf[id] = request
    if type == "data" { dial(request, port: port, dataStream: id) }
    return true
  }

  private func dial(_ request: String, port: UInt16, dataStream: UInt32) {
    let netns = target.netns
    let connection = connection
    let loop = connection.eventLoop
    Task.detached {
      let result = await PodDialer.dial(port: port, netns: netns)
      loop.execute {
        switch result {
        case .failure(let message):
          self.reportError(request, "error forwarding port \(port) to pod \(self.target.sandboxID): \(message)")
        case .success(let fd):
          guard var pair = self.pairs[request] else {
            close(fd)
            return
          }
          pair.socket = fd
          let early = pair.early
          let clientDone = pair.clientDone
          pair.early = []
          self.pairs[request] = pair
          self.writers.async {
            for bytes in early { _ = OutputPump.writeAll(fd, bytes) }
            if clientDone { shutdown(fd, Int32(SHUT_WR)) }
          }
          // Pod to client; when the pod closes its end, the data stream is finished.
          OutputPump.start(fd, closing: false, deliver: { connection.writeWaiting(dataStream, $0) }, onEnd: { connection.finishStream(dataStream) })
        }
      }
    }
  }

  private func reportError(_ request: String, _ message: String) {
    guard let pair = pairs[request] else { return }
    if let error = pair.error {
      let connection = connection
      Thread {
        _ = connection.writeWaiting(error, Array(message.utf8))
        connection.finishStream(error)
      }.start()
    }
    if let data = pair.data { connection.finishStream(data) }
  }

  func streamData(_ id: UInt32, _ bytes: [UInt8]) {
    guard let request = requestOf[id], var pair = pairs[request], pair.data == id else { return }
    let fd = pair.socket
    guard fd >= 0 else {
      // Still dialling: kept until the connection is up (bounded like a socket buffer).
      if pair.early.reduce(0, { $0 + $1.count }) + bytes.count <= 4 << 20 { pair.early.append(bytes) }
      pairs[request] = pair
      return
    }
    writers.async { _ = OutputPump.writeAll(fd, bytes) }
  }

  func streamClosed(_ id: UInt32) {
    guard let request = requestOf[id], var pair = pairs[request], pair.data == id else { return }
    guard pair.socket >= 0 else {
      pair.clientDone = true
      pairs[request] = pair
      return
    }
    let fd = pair.socket
    writers.async { shutdown(fd, Int32(SHUT_WR)) }
  }

  func connectionClosed() {
    for pair in pairs.values where pair.socket >= 0 {
      let fd = pair.socket
      writers.async {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
      }
    }
    pairs.removeAll()
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
