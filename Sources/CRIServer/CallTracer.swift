import GRPCCore
import NIOHPACK
import Tracing

/// Makes each RPC a server span when tracing is on (``TracingSetup``): named by its method
/// (`runtime.v1.RuntimeService/RunPodSandbox`), with `rpc.system`, `rpc.service`, `rpc.method`,
/// `rpc.grpc.status_code`, and the pod and container ids the request and answer name.
///
/// The caller's W3C `traceparent` and `tracestate` headers (kubelet sends them when its own tracing is on)
/// make the span a child of the caller's. The span's context is the task-local ``InstrumentationContext``
/// while the handler runs, so image, network and runtime code below start child spans with
/// ``CrispCore/withChildSpan(_:describe:isolation:_:)`` without any parameter passed down.
///
/// With tracing off the daemon has no `CallTracer` at all: calls keep no headers and start no span.
struct CallTracer: Sendable {
  /// The propagation headers of a request, kept with its call until its handler starts. Only these two:
  /// nothing else of a request's metadata reaches the tracer.
  static func carriedHeaders(_ headers: HPACKHeaders) -> [(String, String)] {
    var carried: [(String, String)] = []
    for name in ["traceparent", "tracestate"] {
      // W3C caps tracestate at 512 bytes of members; a longer value is not a trace context.
      if let value = headers.first(name: name), value.utf8.count <= 1024 { carried.append((name, value)) }
    }
    return carried
  }

  /// `work` as a span of `method`, the child of the context in `headers` when they carry one.
  func traced(
    _ method: GRPCMethod, headers: [(String, String)], _ work: @escaping @Sendable () async throws -> [UInt8]?
  ) -> @Sendable () async throws -> [UInt8]? {
    return {
      var context = InstrumentationContext.topLevel
      InstrumentationSystem.instrument.extract(headers, into: &context, using: HeaderExtractor())
      return try await withSpan(method.spanName, context: context, ofKind: .server) { span in
        span.attributes["rpc.system"] = "grpc"
        span.attributes["rpc.service"] = method.service
        span.attributes["rpc.method"] = method.name
        do {
          let answer = try await CallSpan.$current.withValue(span) { try await work() }
          span.attributes["rpc.grpc.status_code"] = 0
          return answer
        } catch {
          let status = ErrorMapping.rpcError(for: error)
          span.attributes["rpc.grpc.status_code"] = status.code.rawValue
          span.setStatus(SpanStatus(code: .error, message: "\(status.code): \(status.message)"))
          throw error
        }
      }
    }
  }

  /// Reads the carried headers by name, as the W3C propagator asks for them.
  struct HeaderExtractor: Extractor {
    func extract(key: String, from carrier: [(String, String)]) -> String? {
      carrier.first { $0.0 == key }?.1
    }
  }
}
