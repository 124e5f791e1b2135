import GRPCCore
import NIOCore
import SwiftProtobuf

/// One RPC as the server runs it, bytes in and bytes out. The typed constructors below wrap a handler
/// method, so the connection code never sees a message type and each method is one line in the table.
struct GRPCMethod: Sendable {
  enum Body: Sendable {
    /// One request, one response: the request is complete before the handler starts.
    case unary(@Sendable (ByteBuffer) async throws -> [UInt8])
    /// One request, any number of responses, each written when the handler produces it.
    case serverStreaming(@Sendable (ByteBuffer, GRPCResponseSink) async throws -> Void)
    /// Requests as they arrive, one response.
    case clientStreaming(@Sendable (GRPCRequestSource) async throws -> [UInt8])
  }

  /// The method's own name (`ListContainers`), as logs and metrics show it.
  let name: String
  /// What a request's `:path` header names it by: `/runtime.v1.RuntimeService/ListContainers`.
  let path: String
  /// The service's full name, `runtime.v1.RuntimeService`, as a span's `rpc.service` shows it.
  let service: String
  /// The call's span name: its full method name, `runtime.v1.RuntimeService/ListContainers`.
  var spanName: String { String(path.dropFirst()) }
  /// Runs on the socket's event loop thread: calls that answer from memory (see ``GRPCServerEnvironment``).
  let quick: Bool
  /// Ended when the server shuts down instead of being waited for: subscriptions that never end by themselves.
  let endsAtShutdown: Bool
  let body: Body

  private init(_ descriptor: MethodDescriptor, quick: Bool, endsAtShutdown: Bool, body: Body) {
    self.name = descriptor.method
    self.path = "/" + descriptor.fullyQualifiedMethod
    self.service = descriptor.service.fullyQualifiedService
    self.quick = quick
    self.endsAtShutdown = endsAtShutdown
    self.body = body
  }

  static func unary<Request: Message, Response: Message>(
    _ descriptor: MethodDescriptor, quick: Bool = false, _ handler: @escaping @Sendable (Request) async throws -> Response
  ) -> GRPCMethod {
    GRPCMethod(
      descriptor, quick: quick, endsAtShutdown: false,
      body: .unary { bytes in
        let request = try decode(Request.self, bytes)
        CallSpan.describe(request)
        let response = try await handler(request)
        CallSpan.describe(response)
        return try response.serializedBytes()
      })
  }

  /// A unary call whose handler serializes its answer itself, to answer repeated calls from saved bytes.
  static func unarySerialized<Request: Message>(
    _ descriptor: MethodDescriptor, quick: Bool = false, _ handler: @escaping @Sendable (Request) async throws -> [UInt8]
  ) -> GRPCMethod {
    GRPCMethod(
      descriptor, quick: quick, endsAtShutdown: false,
      body: .unary { bytes in
        let request = try decode(Request.self, bytes)
        CallSpan.describe(request)
        return try await handler(request)
      })
  }

  static func serverStreaming<Request: Message, Response: Message>(
    _ descriptor: MethodDescriptor, endsAtShutdown: Bool = false,
    _ handler: @escaping @Sendable (Request, RPCWriter<Response>) async throws -> Void
  ) -> GRPCMethod {
    GRPCMethod(
      descriptor, quick: false, endsAtShutdown: endsAtShutdown,
      body: .serverStreaming { bytes, sink in
        let request = try decode(Request.self, bytes)
        CallSpan.describe(request)
        try await handler(request, RPCWriter(wrapping: GRPCMessageWriter<Response>(sink: sink)))
      })
  }

  static func clientStreaming<Request: Message, Response: Message>(
    _ descriptor: MethodDescriptor, _ handler: @escaping @Sendable (RPCAsyncSequence<Request, any Error>) async throws -> Response
  ) -> GRPCMethod {
    GRPCMethod(
      descriptor, quick: false, endsAtShutdown: false,
      body: .clientStreaming { source in
        try await handler(RPCAsyncSequence(wrapping: GRPCDecodedRequests<Request>(source: source))).serializedBytes()
      })
  }

  /// A request that does not parse is the client's fault in transit, so INTERNAL, as other gRPC servers answer.
  static func decode<Request: Message>(_ type: Request.Type, _ bytes: ByteBuffer) throws(RPCError) -> Request {
    do {
      return try Request(serializedBytes: Array(bytes.readableBytesView))
    } catch {
      throw RPCError(code: .internalError, message: "cannot decode the request as \(Request.protoMessageName): \(error)")
    }
  }
}

/// Where a server-streaming handler's messages go: each send returns once the connection has written the
/// message, so a fast producer is held back by a slow reader instead of filling memory.
struct GRPCResponseSink: Sendable {
  let send: @Sendable ([UInt8]) async throws -> Void
}

/// The typed face of a ``GRPCResponseSink`` that handlers write to.
struct GRPCMessageWriter<Message: SwiftProtobuf.Message>: RPCWriterProtocol {
  let sink: GRPCResponseSink

  func write(_ element: Message) async throws {
    try await sink.send(try element.serializedBytes())
  }

  func write(contentsOf elements: some Sequence<Message>) async throws {
    for element in elements { try await write(element) }
  }
}

/// A client-streaming call's request messages, in order. Taking one tells the connection, which then lets
/// the client send more (HTTP/2 flow control): a slow handler holds back a fast client.
struct GRPCRequestSource: AsyncSequence, Sendable {
  typealias Element = ByteBuffer
  typealias Failure = any Error

  let messages: AsyncThrowingStream<ByteBuffer, any Error>
  let consumed: @Sendable (Int) -> Void

  struct AsyncIterator: AsyncIteratorProtocol {
    var base: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator
    let consumed: @Sendable (Int) -> Void

    mutating func next() async throws -> ByteBuffer? {
      guard let message = try await base.next() else { return nil }
      consumed(message.readableBytes)
      return message
    }
  }

  func makeAsyncIterator() -> AsyncIterator {
    AsyncIterator(base: messages.makeAsyncIterator(), consumed: consumed)
  }
}

/// A client-streaming call's requests, decoded as the handler takes them.
struct GRPCDecodedRequests<Request: Message>: AsyncSequence, Sendable {
  typealias Element = Request
  typealias Failure = any Error

  let source: GRPCRequestSource

  struct AsyncIterator: AsyncIteratorProtocol {
    var base: GRPCRequestSource.AsyncIterator

    mutating func next() async throws -> Request? {
      guard let bytes = try await base.next() else { return nil }
      return try GRPCMethod.decode(Request.self, bytes)
    }
  }

  func makeAsyncIterator() -> AsyncIterator {
    AsyncIterator(base: source.makeAsyncIterator())
  }
}
