import Foundation
import NIOCore
import NIOWebSocket
import Runtime

/// An exec or attach over a websocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`, `channel.k8s.io` and the
/// base64 forms): each message starts with its channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize);
/// in v5 a message `255, channel` closes that channel (the client's end of stdin). The base64 forms send text
/// messages whose first character is the channel digit.
final class WebSocketCommandSession: ChannelInboundHandler, SessionOutput, @unchecked Sendable {
  typealias InboundIn = WebSocketFrame
  typealias OutboundOut = WebSocketFrame

  private let channel: any Channel
  private let version: RemoteCommandVersion
  private let options: StreamOptions
  private let backend: any CommandBackend
  private let gate: ReadGate
  private let input: CommandInput
  /// Event-loop state: reassembly and pings.
  private var framing: WebSocketChannelFraming
  /// For the command's threads: framing has no state on the way out.
  private let outgoing: WebSocketChannelFraming
  private let closing = LockedBox(false)

  init(channel: any Channel, version: RemoteCommandVersion, base64: Bool, options: StreamOptions, backend: any CommandBackend) {
    self.channel = channel
    self.version = version
    self.options = options
    self.backend = backend
    framing = WebSocketChannelFraming(base64: base64)
    outgoing = WebSocketChannelFraming(base64: base64)
    gate = ReadGate(eventLoop: channel.eventLoop)
    input = CommandInput(flow: gate.flow)
  }

  func handlerAdded(context: ChannelHandlerContext) {
    gate.attach(context.channel)
    backend.start(options: options, version: version, output: self, input: input.stream)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch framing.receive(unwrapInboundIn(data), context: context) {
    case .closed:
      input.disconnected()
      finish()
    case .message(255, let body) where version == .v5:
      // v5's close signal: the client is done with a channel (stdin).
      if body.first == CommandStream.stdin.rawValue { input.closeStdin() }
    case .message(let channel, let body):
      switch CommandStream(rawValue: channel) {
      case .stdin: input.stdin(body)
      case .resize: input.resize(body)
      default: break
      }
    case .none:
      break
    }
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    gate.update()
    framing.answerPing(context: context)
    context.fireChannelWritabilityChanged()
  }

  func channelInactive(context: ChannelHandlerContext) {
    input.disconnected()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
  }

  // MARK: SessionOutput

  func writeWaiting(_ stream: CommandStream, _ bytes: [UInt8]) -> Bool {
    if stream == .stderr && !options.stderr { return true }
    if stream == .stdout && !options.stdout { return true }
    guard let frame = outgoing.frame(stream.rawValue, bytes, allocator: channel.allocator) else { return true }
    do {
      try channel.writeAndFlush(frame).wait()
      return true
    } catch {
      return false
    }
  }

  func inputConsumed(_ count: Int) { gate.flow.consumed(count) }

  func finish() {
    let alreadyClosing = closing.get()
    closing.set(true)
    guard !alreadyClosing else { return }
    var status = channel.allocator.buffer(capacity: 2)
    status.write(webSocketErrorCode: .normalClosure)
    channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: status)).whenComplete { _ in
      self.channel.close(promise: nil)
    }
  }
}

/// Port forwarding over a websocket (`v4.channel.k8s.io` / `v4.base64.channel.k8s.io`, or
/// `portforward.k8s.io`): the ports come from the URL's `port` query parameters (else the CRI request's;
/// see ``WebSocketPortList``). Port number i uses channel 2i for data and 2i+1 for errors, and the first
/// message crisp sends on each channel is the port as two little-endian bytes. Each port gets one connection
/// into the pod.
final class WebSocketPortForwardSession: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = WebSocketFrame
  typealias OutboundOut = WebSocketFrame

  private let channel: any Channel
  private let target: PortForwardTarget
  /// Each with its data and error channel; ports whose channels the framing cannot name are left out (the
  /// router refuses such lists before the upgrade).
  private let ports: [(port: UInt16, data: UInt8, error: UInt8)]
  private var framing: WebSocketChannelFraming
  private let outgoing: WebSocketChannelFraming
  private let gate: ReadGate
  // Event-loop state.
  private var sockets: [Int: ForwardSocket] = [:]
  /// What the client sent on a port before its dial completed (counted in the flow), and its size.
  private var early: [Int: (messages: [[UInt8]], bytes: Int)] = [:]
  private var open: Set<Int> = []
  private var closed = false

  init(channel: any Channel, target: PortForwardTarget, ports: [UInt16], base64: Bool) {
    self.channel = channel
    self.target = target
    let framing = WebSocketChannelFraming(base64: base64)
    self.ports = ports.enumerated().compactMap { index, port -> (port: UInt16, data: UInt8, error: UInt8)? in
      guard index < PortForwardLimits.connections, let data = UInt8(exactly: 2 * index), let error = UInt8(exactly: 2 * index + 1),
        framing.prefix(error) != nil
      else { return nil }
      return (port: port, data: data, error: error)
    }
    self.framing = framing
    outgoing = framing
    gate = ReadGate(eventLoop: channel.eventLoop)
  }

  func handlerAdded(context: ChannelHandlerContext) {
    gate.attach(context.channel)
    // Once the pipeline switch has finished: the port prefixes, then a dial per port.
    context.eventLoop.execute { self.start(context.eventLoop) }
  }

  private func start(_ loop: any EventLoop) {
    for (index, entry) in ports.enumerated() {
      let prefix = [UInt8(truncatingIfNeeded: entry.port), UInt8(truncatingIfNeeded: entry.port >> 8)]
      send(entry.data, prefix)
      send(entry.error, prefix)
      open.insert(index)
      let netns = target.netns
      let port = entry.port
      Task.detached {
        let result = await PodDialer.dial(port: port, netns: netns)
        loop.execute { self.dialed(index, result) }
      }
    }
  }

  private func dialed(_ index: Int, _ result: PodDialer.Outcome) {
    guard index < ports.count else { return }
    let entry = ports[index]
    switch result {
    case .failure(let message):
      guard open.contains(index) else { return }
      send(entry.error, Array("error forwarding port \(entry.port) to pod \(target.sandboxID): \(message)".utf8))
      ended(index)
    case .success(let fd):
      // The session closed, or gave up on this port, while dialling.
      guard !closed, open.contains(index) else {
        close(fd)
        return
      }
      let socket = ForwardSocket(fd: fd, flow: gate.flow)
      sockets[index] = socket
      for bytes in early.removeValue(forKey: index)?.messages ?? [] {
        // Handed from the early count to the socket's own.
        socket.write(bytes)
        gate.flow.consumed(bytes.count)
      }
      let dataChannel = entry.data
      let loop = channel.eventLoop
      socket.startReading(deliver: { self.sendWaiting(dataChannel, $0) }, onEnd: { loop.execute { self.ended(index) } })
    }
  }

  /// A port's connection is over; when every port's is, the websocket is closed.
  private func ended(_ index: Int) {
    sockets[index] = nil
    dropEarly(index)
    open.remove(index)
    if open.isEmpty && !closed { channel.close(promise: nil) }
  }

  private func dropEarly(_ index: Int) {
    for bytes in early.removeValue(forKey: index)?.messages ?? [] { gate.flow.consumed(bytes.count) }
  }

  private func send(_ channelNumber: UInt8, _ bytes: [UInt8]) {
    guard let frame = outgoing.frame(channelNumber, bytes, allocator: channel.allocator) else { return }
    channel.writeAndFlush(frame, promise: nil)
  }

  /// From a pump thread: waits until the frame is written, so a slow client paces the pod.
  private func sendWaiting(_ channelNumber: UInt8, _ bytes: [UInt8]) -> Bool {
    guard let frame = outgoing.frame(channelNumber, bytes, allocator: channel.allocator) else { return false }
    do {
      try channel.writeAndFlush(frame).wait()
      return true
    } catch {
      return false
    }
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch framing.receive(unwrapInboundIn(data), context: context) {
    case .closed: context.close(promise: nil)
    case .message(let channel, let body): message(channel, body)
    case .none: break
    }
  }

  private func message(_ channelNumber: UInt8, _ body: [UInt8]) {
    // Only data channels carry input; the error channels are crisp's to write.
    guard channelNumber % 2 == 0, !body.isEmpty else { return }
    let index = Int(channelNumber / 2)
    guard index < ports.count else { return }
    if let socket = sockets[index] {
      socket.write(body)
    } else if open.contains(index) {
      var held = early[index] ?? ([], 0)
      guard body.count <= PortForwardLimits.earlyBytes - held.bytes else {
        let entry = ports[index]
        send(
          entry.error,
          Array(
            ("error forwarding port \(entry.port) to pod \(target.sandboxID): more than \(PortForwardLimits.earlyBytes) bytes "
              + "sent before the connection to the port was made").utf8))
        ended(index)
        return
      }
      gate.flow.received(body.count)
      held.messages.append(body)
      held.bytes += body.count
      early[index] = held
    }
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    gate.update()
    framing.answerPing(context: context)
    context.fireChannelWritabilityChanged()
  }

  func channelInactive(context: ChannelHandlerContext) {
    closed = true
    // Shutting the sockets down ends their readers, which then close them.
    for socket in sockets.values { socket.abort() }
    sockets.removeAll()
    for index in Array(early.keys) { dropEarly(index) }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
  }
}
