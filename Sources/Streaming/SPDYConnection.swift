import SPDY
import NIOCore

/// What runs on top of a SPDY connection (a command session or port forwarding). Every call comes on the
/// connection's event loop.
protocol SPDYApplication: AnyObject {
  /// A client stream opened; false refuses it (RST_STREAM).
  func streamOpened(_ id: UInt32, headers: SPDYHeaders) -> Bool
  func streamData(_ id: UInt32, _ bytes: [UInt8])
  /// The client finished (FIN) or reset the stream.
  func streamClosed(_ id: UInt32)
  /// The connection is gone; nothing more can be written.
  func connectionClosed()
}

/// The server end of one SPDY/3.1 connection: frames in and out, stream bookkeeping, pings and flow control.
///
/// Flow control: crisp tells the peer its receive window as it consumes data (WINDOW_UPDATE on the stream and
/// the session). On the sending side it keeps the peer's windows (64 KiB initially, or SETTINGS) and waits
/// for WINDOW_UPDATE once a peer shows it does flow control by sending one; peers that never do (the
/// spdystream library kubelet and crictl use ignores SPDY flow control) are paced by TCP alone.
final class SPDYConnection: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private let framer: SPDYFramer
  private var input: [UInt8] = []
  private var inputStart = 0
  private var context: ChannelHandlerContext?
  let eventLoop: any EventLoop
  /// Held strongly until the connection tears down (which breaks the cycle with the application).
  var application: (any SPDYApplication)?
  /// Streams the client opened and crisp has not finished writing.
  private var openStreams: Set<UInt32> = []
  private var lastClientStream: UInt32 = 0
  private var closed = false

  // Flow control of what crisp sends.
  private var peerUsesFlowControl = false
  private var initialWindow: Int = 65536
  private var sessionWindow: Int = 65536
  private var streamWindows: [UInt32: Int] = [:]
  /// Data waiting for window, per stream (a stream without window never holds up the others), and the
  /// streams with something queued, served in turn.
  private var queues: [UInt32: [(bytes: [UInt8], fin: Bool, promise: EventLoopPromise<Void>)]] = [:]
  private var queued: [UInt32] = []
  /// Bytes of each stream accepted from a writer but not yet on the socket.
  private var unwritten: [UInt32: Int] = [:]
  /// A writer runs ahead of the socket by up to this much before `writeWaiting` blocks it: one chunk is
  /// read while the previous is sent.
  static let writeAhead = 256 * 1024

  init(eventLoop: any EventLoop) throws(SPDYError) {
    self.eventLoop = eventLoop
    framer = try SPDYFramer()
  }

  func handlerAdded(context: ChannelHandlerContext) { self.context = context }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var buffer = unwrapInboundIn(data)
    if let bytes = buffer.readBytes(length: buffer.readableBytes) { input += bytes }
    do {
      while true {
        if let stream = SPDYFramer.pendingDataStream(input, inputStart), stream == 0 || stream > lastClientStream || stream % 2 == 0 {
          throw SPDYError.malformed("data for stream \(stream), which the client never opened")
        }
        guard let frame = try framer.decode(&input, consumedFrom: &inputStart) else { break }
        handle(frame)
        if closed { return }
      }
    } catch {
      // Garbage on the upgraded connection: say why (GOAWAY protocol error) and hang up.
      send(.goAway(lastGoodStreamID: lastClientStream, status: 1))
      close()
      return
    }
    if inputStart > 0 {
      input.removeFirst(inputStart)
      inputStart = 0
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    tearDown()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    close()
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is IdleStateHandler.IdleStateEvent { close() } else { context.fireUserInboundEventTriggered(event) }
  }

  private func handle(_ frame: SPDYFrame) {
    switch frame {
    case .synStream(let id, _, _, let flags, let headers):
      guard id % 2 == 1, id > lastClientStream else {
        send(.rstStream(streamID: id, status: SPDYFrame.ResetStatus.protocolError.rawValue))
        return
      }
      lastClientStream = id
      guard application?.streamOpened(id, headers: headers) == true else {
        send(.rstStream(streamID: id, status: SPDYFrame.ResetStatus.refusedStream.rawValue))
        return
      }
      openStreams.insert(id)
      streamWindows[id] = initialWindow
      send(.synReply(streamID: id, flags: 0, headers: SPDYHeaders()))
      if flags & SPDYFrame.flagFin != 0 { application?.streamClosed(id) }
    case .data(let id, let flags, let payload):
      if !payload.isEmpty {
        application?.streamData(id, payload)
        // The data is consumed (handed on): give the window back.
        send(.windowUpdate(streamID: id, delta: UInt32(payload.count)))
        send(.windowUpdate(streamID: 0, delta: UInt32(payload.count)))
      }
      if flags & SPDYFrame.flagFin != 0 { application?.streamClosed(id) }
    case .rstStream(let id, _):
      forget(id)
      application?.streamClosed(id)
    case .ping(let id):
      // Client pings have odd ids and are echoed; crisp sends none.
      if id % 2 == 1 { send(.ping(id: id)) }
    case .goAway:
      close()
    case .settings(_, let entries):
      for entry in entries where entry.id == SPDYSetting.initialWindowSize {
        let change = Int(entry.value) - initialWindow
        initialWindow = Int(entry.value)
        for key in streamWindows.keys { streamWindows[key, default: 0] += change }
        peerUsesFlowControl = true
      }
      drainQueues()
    case .windowUpdate(let id, let delta):
      peerUsesFlowControl = true
      if id == 0 {
        sessionWindow += Int(delta)
      } else if openStreams.contains(id) {
        streamWindows[id, default: initialWindow] += Int(delta)
      }
      drainQueues()
    case .synReply, .headers:
      break
    }
  }

  // MARK: Writing (event loop)

  /// A control frame (or flow-control update) outside the data queues.
  private func send(_ frame: SPDYFrame) {
    guard let context, !closed else { return }
    write(context, frame, promise: nil)
  }

  /// Queues data on a stream (split to fit the windows when the peer does flow control). The future
  /// completes once the stream's unwritten bytes are under ``writeAhead``, so a writer is paced by the socket
  /// without waiting out every chunk.
  private func sendData(_ id: UInt32, _ bytes: [UInt8], fin: Bool) -> EventLoopFuture<Void> {
    guard !closed, openStreams.contains(id) else { return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
    let written = eventLoop.makePromise(of: Void.self)
    unwritten[id, default: 0] += bytes.count
    written.futureResult.whenComplete { _ in
      if let left = self.unwritten[id] { self.unwritten[id] = left - bytes.count }
    }
    if queues[id] == nil { queued.append(id) }
    queues[id, default: []].append((bytes, fin, written))
    drainQueues()
    if (unwritten[id] ?? 0) <= Self.writeAhead { return eventLoop.makeSucceededFuture(()) }
    return written.futureResult
  }

  private func drainQueues() {
    guard let context else { return }
    var progress = true
    while progress {
      progress = false
      for id in queued {
        guard var queue = queues[id], let first = queue.first else { continue }
        var chunk = first.bytes
        if peerUsesFlowControl && !chunk.isEmpty {
          let room = min(sessionWindow, streamWindows[id] ?? 0)
          guard room > 0 else { continue }
          sessionWindow -= min(room, chunk.count)
          streamWindows[id, default: 0] -= min(room, chunk.count)
          if chunk.count > room {
            queue[0].bytes = Array(first.bytes[room...])
            queues[id] = queue
            chunk = Array(first.bytes[0..<room])
            write(context, .data(streamID: id, flags: 0, payload: chunk), promise: nil)
            progress = true
            continue
          }
        }
        queue.removeFirst()
        queues[id] = queue.isEmpty ? nil : queue
        write(context, .data(streamID: id, flags: first.fin ? SPDYFrame.flagFin : 0, payload: chunk), promise: first.promise)
        if first.fin {
          openStreams.remove(id)
          streamWindows[id] = nil
        }
        progress = true
      }
      queued.removeAll { queues[$0] == nil }
    }
  }

  private func write(_ context: ChannelHandlerContext, _ frame: SPDYFrame, promise: EventLoopPromise<Void>?) {
    var buffer: ByteBuffer
    if case .data(let id, let flags, let payload) = frame {
      // Data frames, the bulk of the traffic, go straight into the buffer: header, then the payload once.
      buffer = context.channel.allocator.buffer(capacity: payload.count + 8)
      buffer.writeInteger(id & 0x7fff_ffff)
      buffer.writeInteger(UInt32(flags) << 24 | UInt32(payload.count))
      buffer.writeBytes(payload)
    } else {
      let bytes = framer.encode(frame)
      buffer = context.channel.allocator.buffer(capacity: bytes.count)
      buffer.writeBytes(bytes)
    }
    context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
  }

  /// A stream the client reset: nothing more is sent on it.
  private func forget(_ id: UInt32) {
    openStreams.remove(id)
    streamWindows[id] = nil
    unwritten[id] = nil
    let dropped = queues.removeValue(forKey: id) ?? []
    queued.removeAll { $0 == id }
    for entry in dropped { entry.promise.fail(ChannelError.ioOnClosedChannel) }
  }

  private func tearDown() {
    guard !closed else { return }
    closed = true
    let pending = queues.values.flatMap { $0 }
    queues.removeAll()
    queued.removeAll()
    for entry in pending { entry.promise.fail(ChannelError.ioOnClosedChannel) }
    application?.connectionClosed()
    application = nil
  }

  // MARK: Thread-safe API for the session

  /// Writes `bytes` on stream `id`, blocking the calling thread (never the event loop) until they are on
  /// the socket. False when the stream or connection is gone.
  func writeWaiting(_ id: UInt32, _ bytes: [UInt8], fin: Bool = false) -> Bool {
    do {
      try eventLoop.flatSubmit { self.sendData(id, bytes, fin: fin) }.wait()
      return true
    } catch {
      return false
    }
  }

  /// Stops (or restarts) reading from the client: the backpressure for input crisp cannot pass on as fast
  /// as it arrives (a container reading its stdin slowly).
  func setReading(_ on: Bool) {
    eventLoop.execute { self.context?.channel.setOption(ChannelOptions.autoRead, value: on).whenFailure { _ in } }
    if on { eventLoop.execute { self.context?.read() } }
  }

  /// Ends crisp's side of a stream (empty DATA with FIN).
  func finishStream(_ id: UInt32) {
    eventLoop.execute {
      guard self.openStreams.contains(id) else { return }
      _ = self.sendData(id, [], fin: true)
    }
  }

  /// Closes the connection after what is queued has been written.
  func close() {
    eventLoop.execute {
      guard let context = self.context, !self.closed else { return }
      self.tearDown()
      // An empty write completes after every earlier one: only then is the connection closed, so the
      // final status and FINs reach the client.
      context.writeAndFlush(self.wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { _ in
        context.channel.close(promise: nil)
      }
    }
  }
}
