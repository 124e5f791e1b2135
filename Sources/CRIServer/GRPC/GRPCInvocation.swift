import NIOCore

/// A handler paired with the input it is started with. ``GRPCCallState`` builds it when the call's input is
/// ready, so the connection never meets a body with the wrong kind of input.
enum GRPCInvocation {
  /// A unary handler and its one request.
  case unary(@Sendable (ByteBuffer) async throws -> [UInt8], request: ByteBuffer)
  /// A server-streaming handler and its one request.
  case serverStreaming(@Sendable (ByteBuffer, GRPCResponseSink) async throws -> Void, request: ByteBuffer)
  /// A client-streaming handler and its request messages, which arrive while it runs.
  case clientStreaming(@Sendable (GRPCRequestSource) async throws -> [UInt8], requests: AsyncThrowingStream<ByteBuffer, any Error>)
}
