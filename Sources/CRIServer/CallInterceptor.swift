import GRPCCore
import Logging

/// Wraps every RPC: maps thrown errors to gRPC statuses (``ErrorMapping``) and logs each call at debug level
/// with its method, duration and status code, so `log.level = "debug"` shows exactly what kubelet asked.
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
