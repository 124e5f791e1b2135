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
  private var waiting: [(streamID: UInt32, bytes: [UInt8], fin: Bool, promise: EventLoopPromise<Void>)] = []

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
      openStreams.remove(id)
      failWaiting(streamID: id)
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
      drainWaiting()
    case .windowUpdate(let id, let delta):
      peerUsesFlowControl = true
      if id == 0 { sessionWindow += Int(delta) } else { streamWindows[id, default: initialWindow] += Int(delta) }
      drainWaiting()
    case .synReply, .headers:
      break
    }
  }

  // MARK: Writing (event loop)

  private func send(_ frame: SPDYFrame) {
    guard let context, !closed else { return }
    let bytes = framer.encode(frame)
    var buffer = context.channel.allocator.buffer(capacity: bytes.count)
    buffer.writeBytes(bytes)
    context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
  }

  /// Sends data on a stream (split to fit the windows when the peer does flow control); the future
  /// completes when the bytes are written to the socket.
  private func sendData(_ id: UInt32, _ bytes: [UInt8], fin: Bool) -> EventLoopFuture<Void> {
    let promise = eventLoop.makePromise(of: Void.self)
    guard !closed, openStreams.contains(id) else {
      promise.fail(ChannelError.ioOnClosedChannel)
      return promise.futureResult
    }
    waiting.append((id, bytes, fin, promise))
    drainWaiting()
    return promise.futureResult
  }

  private func drainWaiting() {
    guard let context else { return }
    while let first = waiting.first {
      var chunk = first.bytes
      if peerUsesFlowControl && !chunk.isEmpty {
        let room = min(sessionWindow, streamWindows[first.streamID] ?? 0)
        guard room > 0 else { return }
        if chunk.count > room {
          chunk = Array(first.bytes[0..<room])
          waiting[0].bytes = Array(first.bytes[room...])
          sessionWindow -= room
          streamWindows[first.streamID, default: 0] -= room
          write(context, .data(streamID: first.streamID, flags: 0, payload: chunk), promise: nil)
          continue
        }
        sessionWindow -= chunk.count
        streamWindows[first.streamID, default: 0] -= chunk.count
      }
      waiting.removeFirst()
      if first.fin { openStreams.remove(first.streamID) }
      write(context, .data(streamID: first.streamID, flags: first.fin ? SPDYFrame.flagFin : 0, payload: chunk), promise: first.promise)
    }
  }

  private func write(_ context: ChannelHandlerContext, _ frame: SPDYFrame, promise: EventLoopPromise<Void>?) {
    let bytes = framer.encode(frame)
    var buffer = context.channel.allocator.buffer(capacity: bytes.count)
    buffer.writeBytes(bytes)
    context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
  }

  private func failWaiting(streamID: UInt32) {
    let failed = waiting.filter { $0.streamID == streamID }
    waiting.removeAll { $0.streamID == streamID }
    for entry in failed { entry.promise.fail(ChannelError.ioOnClosedChannel) }
  }

  private func tearDown() {
    guard !closed else { return }
    closed = true
    let pending = waiting
    waiting.removeAll()
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
