import NIOCore
import NIOHTTP2
import NIOPosix
import Synchronization

/// crisp's gRPC server on its already-listening unix socket: accepts connections, runs each through
/// `NIOHTTP2Handler` and a ``GRPCConnectionHandler``, and shuts down gracefully.
final class GRPCSocketServer: Sendable {
  private let environment: GRPCServerEnvironment
  private let group: any EventLoopGroup
  private let listeningSocket: Int32
  /// How long a graceful shutdown waits for running calls before cancelling them.
  private let shutdownGrace: TimeAmount
  private let state = Mutex(State())

  private struct State {
    var listener: (any Channel)?
    var connections: [ObjectIdentifier: Connection] = [:]
    var shuttingDown = false
    var drained: [CheckedContinuation<Void, Never>] = []
  }

  private struct Connection: @unchecked Sendable {
    // Used only on `channel.eventLoop`.
    let channel: any Channel
    let handler: GRPCConnectionHandler
  }

  init(listeningSocket: Int32, group: any EventLoopGroup, environment: GRPCServerEnvironment, shutdownGrace: TimeAmount = .seconds(30)) {
    self.listeningSocket = listeningSocket
    self.group = group
    self.environment = environment
    self.shutdownGrace = shutdownGrace
  }

  /// Serves until ``beginGracefulShutdown()`` has run its course: the listener closed and every
  /// connection's calls done (or cancelled at the end of the grace period).
  func run() async throws {
    let environment = self.environment
    let listener = try await ServerBootstrap(group: group)
      .childChannelOption(.allowRemoteHalfClosure, value: false)
      .childChannelInitializer { [self] channel in
        channel.eventLoop.makeCompletedFuture {
          let handler = GRPCConnectionHandler(environment: environment)
          try channel.pipeline.syncOperations.addHandler(
            NIOHTTP2Handler(mode: .server, frameDelegate: nil, connectionConfiguration: GRPCConnectionHandler.connectionConfiguration))
          try channel.pipeline.syncOperations.addHandler(handler)
          self.track(Connection(channel: channel, handler: handler))
        }
      }
      .withBoundSocket(listeningSocket)
      .get()
    let shutDownAlready = state.withLock { state -> Bool in
      state.listener = listener
      return state.shuttingDown
    }
    if shutDownAlready { listener.close(promise: nil) }
    try await withTaskCancellationHandler {
      try? await listener.closeFuture.get()
      // However the listener ended, the open connections are drained, not left behind.
      beginGracefulShutdown()
      await withCheckedContinuation { continuation in
        let done = state.withLock { state -> Bool in
          if state.connections.isEmpty { return true }
          state.drained.append(continuation)
          return false
        }
        if done { continuation.resume() }
      }
    } onCancel: {
      beginGracefulShutdown()
    }
  }

  /// Stops accepting, sends every connection GOAWAY, and gives running calls ``shutdownGrace`` to finish.
  func beginGracefulShutdown() {
    let (listener, connections) = state.withLock { state -> ((any Channel)?, [Connection]) in
      guard !state.shuttingDown else { return (nil, []) }
      state.shuttingDown = true
      return (state.listener, Array(state.connections.values))
    }
    listener?.close(promise: nil)
    for connection in connections { drain(connection) }
  }

  private func drain(_ connection: Connection) {
    let grace = shutdownGrace
    connection.channel.eventLoop.execute {
      connection.handler.beginShutdown()
      connection.channel.eventLoop.scheduleTask(in: grace) { connection.handler.forceClose() }
    }
  }

  private func track(_ connection: Connection) {
    let key = ObjectIdentifier(connection.channel)
    let shuttingDown = state.withLock { state -> Bool in
      state.connections[key] = connection
      return state.shuttingDown
    }
    if shuttingDown { drain(connection) }
    connection.channel.closeFuture.whenComplete { [self] _ in
      let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
        state.connections[key] = nil
        guard state.connections.isEmpty else { return [] }
        defer { state.drained = [] }
        return state.drained
      }
      for continuation in waiting { continuation.resume() }
    }
  }
}
