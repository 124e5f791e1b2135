import GRPCCore
import Logging
import Metrics

/// Wraps every RPC: maps thrown errors to gRPC statuses (``ErrorMapping``), logs each call at debug level
/// with its method, duration and status code, so `log.level = "debug"` shows exactly what kubelet asked, and
/// counts it (`crisp_grpc_requests_total{method,code}`, `crisp_grpc_request_duration_seconds{method}`).
struct CallInterceptor: ServerInterceptor {
  let logger: Logger
  /// Told when calls start and end, to trim memory once the daemon is quiet.
  var trimmer: IdleTrimmer?

  /// Calls answered from the store and from memory, with no waiting on the kernel beyond a few small
  /// reads: they stay on the socket's event loop thread (``EventLoopTaskExecutor``). kubelet polls these
  /// every second or so; every other call goes to the concurrency pool.
  static let quickMethods: Set<String> = [
    "Version", "Status", "RuntimeConfig", "ListContainers", "ListPodSandbox", "ContainerStatus", "ListImages", "ImageStatus",
    "ListMetricDescriptors",
  ]

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    if Self.quickMethods.contains(context.descriptor.method) {
      return try await handle(request: request, context: context, next: next)
    }
    // Off the loop for the whole call: the handler, and the body it produces later.
    var response = try await withTaskExecutorPreference(globalConcurrentExecutor) {
      try await handle(request: request, context: context, next: next)
    }
    if case .success(var contents) = response.accepted {
      let producer = contents.producer
      contents.producer = { writer in
        try await withTaskExecutorPreference(globalConcurrentExecutor) { try await producer(writer) }
      }
      response = StreamingServerResponse(accepted: .success(contents))
    }
    return response
  }

  private func handle<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let start = ContinuousClock.now
    let method = context.descriptor.fullyQualifiedMethod
    trimmer?.activity(context.descriptor.method)
    let response: StreamingServerResponse<Output>
    do {
      response = try await next(request, context)
    } catch {
      let mapped = ErrorMapping.rpcError(for: error)
      record(method, start, mapped.code, mapped.message)
      throw mapped
    }
    switch response.accepted {
    case .failure(let error):
      record(method, start, error.code, error.message)
      return response
    case .success(var contents):
      // The body of the response (all of it, for a server-streaming call) is produced later, by this
      // closure: the call's outcome is known only when it returns.
      let producer = contents.producer
      let interceptor = self
      contents.producer = { writer in
        do {
          let trailers = try await producer(writer)
          interceptor.record(method, start, nil, nil)
          return trailers
        } catch {
          let mapped = ErrorMapping.rpcError(for: error)
          interceptor.record(method, start, mapped.code, mapped.message)
          throw mapped
        }
      }
      return StreamingServerResponse(accepted: .success(contents))
    }
  }

  /// Counts the finished call, and logs it at debug level.
  private func record(_ method: String, _ start: ContinuousClock.Instant, _ code: RPCError.Code?, _ message: String?) {
    let nanoseconds = (ContinuousClock.now - start).totalNanoseconds
    let status = code.map { "\($0)" } ?? "ok"
    // The method's own name (`ListContainers`), as operators know it.
    let name = method.split(separator: "/").last.map(String.init) ?? method
    trimmer?.activity(name)
    Counter(label: "crisp_grpc_requests_total", dimensions: [("method", name), ("code", status)]).increment()
    Metrics.Timer(label: "crisp_grpc_request_duration_seconds", dimensions: [("method", name)]).recordNanoseconds(nanoseconds)
    guard logger.logLevel <= .debug else { return }
    var metadata: Logger.Metadata = ["method": "\(method)", "duration_us": "\(nanoseconds / 1000)", "code": "\(status)"]
    if let message { metadata["error"] = "\(message)" }
    logger.debug("rpc", metadata: metadata)
  }
}
