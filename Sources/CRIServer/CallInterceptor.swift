import GRPCCore
import Logging
import Metrics

/// Wraps every RPC: maps thrown errors to gRPC statuses (``ErrorMapping``), logs each call at debug level
/// with its method, duration and status code, so `log.level = "debug"` shows exactly what kubelet asked, and
/// counts it (`crisp_grpc_requests_total{method,code}`, `crisp_grpc_request_duration_seconds{method}`).
struct CallInterceptor: ServerInterceptor {
  let logger: Logger

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let start = ContinuousClock.now
    let method = context.descriptor.fullyQualifiedMethod
    let response: StreamingServerResponse<Output>
    do {
      response = try await next(request, context)
    } catch {
      let mapped = ErrorMapping.rpcError(for: error)
      log(method, start, mapped.code, mapped.message)
      throw mapped
    }
    switch response.accepted {
    case .failure(let error):
      log(method, start, error.code, error.message)
      return response
    case .success(var contents):
      // The body of the response (all of it, for a server-streaming call) is produced later, by this
      // closure: the call's outcome is known only when it returns.
      let producer = contents.producer
      let logger = self
      contents.producer = { writer in
        do {
          let trailers = try await producer(writer)
          logger.log(method, start, nil, nil)
          return trailers
        } catch {
          let mapped = ErrorMapping.rpcError(for: error)
          logger.log(method, start, mapped.code, mapped.message)
          throw mapped
        }
      }
      return StreamingServerResponse(accepted: .success(contents))
    }
  }

  private func log(_ method: String, _ start: ContinuousClock.Instant, _ code: RPCError.Code?, _ message: String?) {
    // The method's own name (`ListContainers`), as operators know it.
    let name = method.split(separator: "/").last.map(String.init) ?? method
    Counter(label: "crisp_grpc_requests_total", dimensions: [("method", name), ("code", code.map { "\($0)" } ?? "ok")]).increment()
    Metrics.Timer(label: "crisp_grpc_request_duration_seconds", dimensions: [("method", name)]).recordNanoseconds((ContinuousClock.now - start).totalNanoseconds)
    guard logger.logLevel <= .debug else { return }
    let elapsed = ContinuousClock.now - start
    let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
    var metadata: Logger.Metadata = [
      "method": "\(method)",
      "duration_us": "\(micros)",
      "code": "\(code.map { "\($0)" } ?? "ok")",
    ]
    if let message { metadata["error"] = "\(message)" }
    logger.debug("rpc", metadata: metadata)
  }
}
