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
  private let input: AsyncStream<ClientInput>
  private let inputSink: AsyncStream<ClientInput>.Continuation
  private var resize = ResizeDecoder()
  private var framing: WebSocketChannelFraming
  private let closing = LockedBox(false)
  private let flow: InputFlow

  init(channel: any Channel, version: RemoteCommandVersion, base64: Bool, options: StreamOptions, backend: any CommandBackend) {
    self.channel = channel
    self.version = version
    self.options = options
    self.backend = backend
    framing = WebSocketChannelFraming(base64: base64)
    (input, inputSink) = AsyncStream.makeStream(of: ClientInput.self, bufferingPolicy: .unbounded)
    flow = InputFlow { [channel] on in channel.setOption(ChannelOptions.autoRead, value: on).whenFailure { _ in } }
  }

  func handlerAdded(context: ChannelHandlerContext) {
    backend.start(options: options, version: version, output: self, input: input)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch framing.receive(unwrapInboundIn(data), context: context) {
    case .closed:
      inputSink.yield(.disconnected)
      inputSink.finish()
      finish()
    case .message(255, let body) where version == .v5:
      // v5's close signal: the client is done with a channel (stdin).
      if body.first == CommandStream.stdin.rawValue { inputSink.yield(.stdinClosed) }
    case .message(let channel, let body):
      switch CommandStream(rawValue: channel) {
      case .stdin:
        flow.received(body.count)
        inputSink.yield(.stdin(body))
      case .resize:
        for (width, height) in resize.feed(body) { inputSink.yield(.resize(width: width, height: height)) }
      default:
        break
      }
    case .none:
      break
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    inputSink.yield(.disconnected)
    inputSink.finish()
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
    let frame = framing.frame(stream.rawValue, bytes, allocator: channel.allocator)
    do {
      try channel.writeAndFlush(frame).wait()
      return true
    } catch {
      return false
    }
  }

  func inputConsumed(_ count: Int) { flow.consumed(count) }

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
/// `portforward.k8s.io`): the ports come from the URL's `port` query parameters (else the CRI request's).
/// Port number i uses channel 2i for data and 2i+1 for errors, and the first message crisp sends on each
/// channel is the port as two little-endian bytes. Each port gets one connection into the pod.
final class WebSocketPortForwardSession: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = WebSocketFrame
  typealias OutboundOut = WebSocketFrame

  private let channel: any Channel
  private let target: PortForwardTarget
  private let ports: [UInt16]
  private var framing: WebSocketChannelFraming
  // Event-loop state.
  private var sockets: [Int: ForwardSocket] = [:]
  private var early: [Int: [[UInt8]]] = [:]
  private var open: Set<Int> = []
  private var closed = false
  private let flow: InputFlow

  init(channel: any Channel, target: PortForwardTarget, ports: [UInt16], base64: Bool) {
    self.channel = channel
    self.target = target
    self.ports = ports
    framing = WebSocketChannelFraming(base64: base64)
    flow = InputFlow { [channel] on in channel.setOption(ChannelOptions.autoRead, value: on).whenFailure { _ in } }
  }

  func handlerAdded(context: ChannelHandlerContext) {
    // Once the pipeline switch has finished: the port prefixes, then a dial per port.
    context.eventLoop.execute { self.start(context.eventLoop) }
  }

  private func start(_ loop: any EventLoop) {
    for (index, port) in ports.enumerated() {
      let prefix = [UInt8(port & 0xff), UInt8(port >> 8)]
      send(UInt8(2 * index), prefix)
      send(UInt8(2 * index + 1), prefix)
      open.insert(index)
      let netns = target.netns
      Task.detached {
        let result = await PodDialer.dial(port: port, netns: netns)
        loop.execute { self.dialed(index, port, result) }
      }
    }
  }

  private func dialed(_ index: Int, _ port: UInt16, _ result: PodDialer.Outcome) {
    switch result {
    case .failure(let message):
      send(UInt8(2 * index + 1), Array("error forwarding port \(port) to pod \(target.sandboxID): \(message)".utf8))
      ended(index)
    case .success(let fd):
      guard !closed else {
        close(fd)
        return
      }
      let socket = ForwardSocket(fd: fd, flow: flow)
      sockets[index] = socket
      for bytes in early.removeValue(forKey: index) ?? [] { socket.write(bytes) }
      let dataChannel = UInt8(2 * index)
      let loop = channel.eventLoop
      socket.startReading(deliver: { self.sendWaiting(dataChannel, $0) }, onEnd: { loop.execute { self.ended(index) } })
    }
  }

  /// A port's connection is over; when every port's is, the websocket is closed.
  private func ended(_ index: Int) {
    sockets[index] = nil
    open.remove(index)
    if open.isEmpty && !closed { channel.close(promise: nil) }
  }

  private func frame(_ channelNumber: UInt8, _ bytes: [UInt8]) -> WebSocketFrame {
    framing.frame(channelNumber, bytes, allocator: channel.allocator)
  }

  private func send(_ channelNumber: UInt8, _ bytes: [UInt8]) {
    channel.writeAndFlush(frame(channelNumber, bytes), promise: nil)
  }

  /// From a pump thread: waits until the frame is written, so a slow client paces the pod.
  private func sendWaiting(_ channelNumber: UInt8, _ bytes: [UInt8]) -> Bool {
    do {
      try channel.writeAndFlush(frame(channelNumber, bytes)).wait()
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
      early[index, default: []].append(body)
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    closed = true
    // Shutting the sockets down ends their readers, which then close them.
    for socket in sockets.values { socket.abort() }
    sockets.removeAll()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
  }
}
