/// What every connection of the server shares.
struct GRPCServerEnvironment: Sendable {
  /// Keyed by request path, `/runtime.v1.RuntimeService/ListContainers`.
  let methods: [String: GRPCMethod]
  /// Where quick calls run: the daemon gives the socket's own event loop thread (``EventLoopTaskExecutor``).
  let loopExecutor: any TaskExecutor
  let recorder: CallRecorder
  let maxMessageSize: Int
  /// Where the other calls run: the concurrency pool. A seam for unit tests, which run every call on their
  /// embedded event loop, one step at a time.
  var poolExecutor: any TaskExecutor = globalConcurrentExecutor
  /// Spans for every call; nil when tracing is off, and then calls neither keep headers nor start spans.
  var tracer: CallTracer?
}
