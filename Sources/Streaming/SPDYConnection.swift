import SPDY
import NIOCore

/// What runs on top of a SPDY connection (a command session or port forwarding). Every call comes on the
/// connection's event loop.
protocol SPDYApplication: AnyObject {
  /// A client stream opened; false refuses it (RST_STREAM).
  func streamOpened(_ id: UInt32, headers: SPDYHeaders) -> Bool
  func streamData(_ id: UInt32, _ bytes: [UInt8])
  /// The client finished the stream (FIN), or reset it (RST_STREAM: it wants nothing more either way).
  func streamClosed(_ id: UInt32, reset: Bool)
  /// The connection is gone; nothing more can be written.
  func connectionClosed()
}

/// The peer's receive windows crisp sends into (SPDY/3.1 flow control, section 2.6.8): the session's and one
/// per open stream, from 64 KiB or the peer's SETTINGS, raised by its WINDOW_UPDATEs. Every number stays
/// within 32 bits: an update that would take a window past 2^31-1 is the peer's error, not a trap.
struct PeerWindows {
  static let maximum = Int(Int32.max)
  private(set) var initial = 65536
  private(set) var session = 65536
  private var streams: [UInt32: Int] = [:]

  enum Violation: Error, Equatable {
    /// A stream's window went past 2^31-1 (the stream is reset with FLOW_CONTROL_ERROR).
    case stream(UInt32)
    /// The session window went past 2^31-1, or SETTINGS asked for such an initial window (GOAWAY).
    case session
  }

  mutating func open(_ id: UInt32) { streams[id] = initial }
  mutating func close(_ id: UInt32) { streams[id] = nil }

  /// What may be sent on `id` now.
  func room(_ id: UInt32) -> Int { min(session, streams[id] ?? 0) }

  /// `count` bytes (at most ``room(_:)``) were sent on `id`.
  mutating func consume(_ id: UInt32, _ count: Int) {
    session -= count
    if let window = streams[id] { streams[id] = window - count }
  }

  /// SETTINGS_INITIAL_WINDOW_SIZE: every open stream's window moves by the change.
  mutating func setInitial(_ value: UInt32) throws(Violation) {
    guard let new = Int(exactly: value), new <= Self.maximum else { throw .session }
    let change = new - initial
    initial = new
    // Both sides of the change are within 32 bits, so none of this can overflow; a window pushed past the
    // maximum by the change is held at it.
    for (id, window) in streams { streams[id] = min(window + change, Self.maximum) }
  }

  /// A WINDOW_UPDATE for stream `id` (0: the session); updates for streams not open are ignored.
  mutating func update(_ id: UInt32, delta: UInt32) throws(Violation) {
    let amount = Int(delta & 0x7fff_ffff)
    if id == 0 {
      guard amount <= Self.maximum - session else { throw .session }
      session += amount
    } else if let window = streams[id] {
      guard amount <= Self.maximum - window else { throw .stream(id) }
      streams[id] = window + amount
    }
  }
}

/// The server end of one SPDY/3.1 connection: frames in and out, stream bookkeeping, pings and flow control.
///
/// Flow control: crisp tells the peer its receive window as it consumes data (WINDOW_UPDATE on the stream and
/// the session, one of each per stream and read however many frames came). On the sending side it keeps the
/// peer's windows (``PeerWindows``) and waits for WINDOW_UPDATE once a peer shows it does flow control by
/// sending one; peers that never do (the spdystream library kubelet and crictl use ignores SPDY flow control)
/// are paced by TCP alone.
///
/// Backpressure: frames are handled only while the connection takes writes; when the peer stops reading
/// what crisp writes (PING echoes, WINDOW_UPDATEs, output), the rest of its input waits undecoded and the
/// ``ReadGate`` stops reading the socket, so a peer that floods without reading holds crisp to one read's worth.
final class SPDYConnection: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private let framer: SPDYFramer
  private var input: [UInt8] = []
  private var inputStart = 0
  private var processing = false
  private var context: ChannelHandlerContext?
  let eventLoop: any EventLoop
  /// Reading stops while the application holds too much of the client's input or the socket is full.
  private let gate: ReadGate
  /// The client's input the application holds (stdin, forwarded bytes): past its marks reading pauses.
  var inputFlow: InputFlow { gate.flow }
  /// Held strongly until the connection tears down (which breaks the cycle with the application).
  var application: (any SPDYApplication)?
  /// Streams the client opened and crisp has not finished writing.
  private var openStreams: Set<UInt32> = []
  private var lastClientStream: UInt32 = 0
  private var closed = false
  /// Window crisp owes the client for data handled in the current pass, per stream and for the session.
  private var owedWindows: [UInt32: Int] = [:]
  private var owedSession = 0

  // Flow control of what crisp sends.
  private var peerUsesFlowControl = false
  private var windows = PeerWindows()
  /// Data waiting for window, per stream (a stream without window never holds up the others), and the
  /// streams with something queued, served in turn.
  private var queues: [UInt32: [(bytes: [UInt8], fin: Bool, promise: EventLoopPromise<Void>)]] = [:]
  private var queued: [UInt32] = []
  /// Bytes of each stream accepted from a writer but not yet on the socket.
  private var unwritten: [UInt32: Int] = [:]
  /// A writer runs ahead of the socket by up to this much before `writeWaiting` blocks it: one chunk is
  /// read while the previous is sent.
  static let writeAhead = 256 * 1024
  /// Streams crisp keeps open at once on one connection (each may hold up to ``writeAhead`` of output): a
  /// command session uses five, port forwarding two per connection. Further SYN_STREAMs are refused.
  static let maximumOpenStreams = 2 * PortForwardLimits.connections + 16

  init(eventLoop: any EventLoop) throws(SPDYError) {
    self.eventLoop = eventLoop
    framer = try SPDYFramer()
    gate = ReadGate(eventLoop: eventLoop)
  }

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
    gate.attach(context.channel)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var buffer = unwrapInboundIn(data)
    if let bytes = buffer.readBytes(length: buffer.readableBytes) { input += bytes }
    processInput(context)
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    gate.update()
    // Input left waiting while the socket was full is handled now (unless this comes from within a pass).
    if context.channel.isWritable && !processing { processInput(context) }
    context.fireChannelWritabilityChanged()
  }

  /// Decodes and handles whole frames from the input while the connection takes writes.
  private func processInput(_ context: ChannelHandlerContext) {
    guard !processing, !closed else { return }
    processing = true
    defer { processing = false }
    do {
      while context.channel.isWritable {
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
    returnWindows()
    if inputStart > 0 {
      input.removeFirst(inputStart)
      inputStart = 0
    }
  }

  /// One WINDOW_UPDATE per stream that received data in this pass, and one for the session.
  private func returnWindows() {
    for (id, amount) in owedWindows { sendWindowUpdate(id, amount) }
    owedWindows.removeAll(keepingCapacity: true)
    sendWindowUpdate(0, owedSession)
    owedSession = 0
  }

  private func sendWindowUpdate(_ id: UInt32, _ amount: Int) {
    var left = amount
    while left > 0 {
      let delta = min(left, PeerWindows.maximum)
      left -= delta
      send(.windowUpdate(streamID: id, delta: UInt32(truncatingIfNeeded: delta)))
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
      guard openStreams.count < Self.maximumOpenStreams, application?.streamOpened(id, headers: headers) == true else {
        send(.rstStream(streamID: id, status: SPDYFrame.ResetStatus.refusedStream.rawValue))
        return
      }
      openStreams.insert(id)
      windows.open(id)
      send(.synReply(streamID: id, flags: 0, headers: SPDYHeaders()))
      if flags & SPDYFrame.flagFin != 0 { application?.streamClosed(id, reset: false) }
    case .data(let id, let flags, let payload):
      if !payload.isEmpty {
        application?.streamData(id, payload)
        // The data is consumed (handed on): its window is given back at the end of this pass. A frame
        // carries at most 2^24 bytes, and a pass what one read brought.
        owedWindows[id, default: 0] += payload.count
        owedSession += payload.count
      }
      if flags & SPDYFrame.flagFin != 0 { application?.streamClosed(id, reset: false) }
    case .rstStream(let id, _):
      forget(id)
      application?.streamClosed(id, reset: true)
    case .ping(let id):
      // Client pings have odd ids and are echoed; crisp sends none.
      if id % 2 == 1 { send(.ping(id: id)) }
    case .goAway:
      close()
    case .settings(_, let entries):
      for entry in entries where entry.id == SPDYSetting.initialWindowSize {
        do {
          try windows.setInitial(entry.value)
        } catch {
          flowControlViolation(error)
          return
        }
        peerUsesFlowControl = true
      }
      drainQueues()
    case .windowUpdate(let id, let delta):
      peerUsesFlowControl = true
      do {
        try windows.update(id, delta: delta)
      } catch {
        flowControlViolation(error)
        return
      }
      drainQueues()
    case .synReply, .headers:
      break
    }
  }

  /// A window past 2^31-1: the stream is reset (FLOW_CONTROL_ERROR); for the session, the connection ends.
  private func flowControlViolation(_ violation: PeerWindows.Violation) {
    switch violation {
    case .stream(let id):
      send(.rstStream(streamID: id, status: SPDYFrame.ResetStatus.flowControlError.rawValue))
      forget(id)
      application?.streamClosed(id, reset: true)
    case .session:
      send(.goAway(lastGoodStreamID: lastClientStream, status: 1))
      close()
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
          let room = windows.room(id)
          guard room > 0 else { continue }
          windows.consume(id, min(room, chunk.count))
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
          windows.close(id)
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
    windows.close(id)
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

  /// On the event loop: queues a short message of crisp's own on stream `id` without waiting for it to be
  /// written (and ends the stream with it if `fin`).
  func sendNow(_ id: UInt32, _ bytes: [UInt8], fin: Bool) {
    _ = sendData(id, bytes, fin: fin)
  }

  /// Ends crisp's side of a stream (empty DATA with FIN).
  func finishStream(_ id: UInt32) {
    eventLoop.execute {
      guard self.openStreams.contains(id) else { return }
      _ = self.sendData(id, [], fin: true)
    }
  }

  /// Closes the connection after what is queued has been written. On the event loop this takes effect at
  /// once: no further frame of the client's is handled.
  func close() {
    if eventLoop.inEventLoop {
      closeNow()
    } else {
      eventLoop.execute { self.closeNow() }
    }
  }

  private func closeNow() {
    guard let context, !closed else { return }
    tearDown()
    // An empty write completes after every earlier one: only then is the connection closed, so the final
    // status and FINs reach the client.
    context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { _ in
      context.channel.close(promise: nil)
    }
    // A client that stopped reading never lets that write complete: it gets a grace period, then the
    // connection is closed anyway, failing the pending writes (and so freeing the output threads waiting
    // on them) instead of holding them forever.
    let channel = context.channel
    channel.eventLoop.scheduleTask(in: Self.closeGrace) {
      if channel.isActive { channel.close(promise: nil) }
    }
  }

  /// How long a closing connection may take to deliver what was written before it.
  static let closeGrace: TimeAmount = .seconds(5)
}
