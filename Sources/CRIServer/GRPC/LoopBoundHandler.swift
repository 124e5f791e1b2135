import GRPCCore
import NIOCore
import NIOHTTP2

/// How a call's task reaches its connection: on the loop directly when it already runs there (quick
/// calls), else by a hop.
struct LoopBoundHandler: @unchecked Sendable {
  // Only touched on `loop`: every access below checks or hops.
  private let handler: GRPCConnectionHandler
  private let loop: any EventLoop

  init(_ handler: GRPCConnectionHandler, loop: any EventLoop) {
    self.handler = handler
    self.loop = loop
  }

  func run(_ body: @escaping @Sendable (GRPCConnectionHandler) -> Void) {
    if loop.inEventLoop {
      body(handler)
    } else {
      let handler = self
      loop.execute { body(handler.handler) }
    }
  }

  func send(_ message: [UInt8], on streamID: HTTP2StreamID) async throws {
    let future: EventLoopFuture<Void>?
    if loop.inEventLoop {
      future = handler.send(message, on: streamID)
    } else {
      let handler = self
      future = try await loop.submit { handler.handler.send(message, on: streamID) }.get()
    }
    guard let future else { throw RPCError(code: .cancelled, message: "the call has ended") }
    try await future.get()
  }
}
