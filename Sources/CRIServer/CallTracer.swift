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
  /// The propagation headers of a request, kept with its call until its handler starts. Only these two,
  /// and only when they have the W3C form: nothing else of a request's metadata reaches the tracer, and a
  /// malformed value is dropped here rather than handed to the propagator's parser (a `tracestate` of
  /// letters with combining marks crashes the W3C library's parser on its error path; any client may send
  /// one).
  static func carriedHeaders(_ headers: HPACKHeaders) -> [(String, String)] {
    guard let parent = headers.first(name: "traceparent"), isTraceParent(parent) else { return [] }
    var carried = [("traceparent", parent)]
    if let state = headers.first(name: "tracestate"), isTraceState(state) { carried.append(("tracestate", state)) }
    return carried
  }

  /// `version-traceid-parentid-flags`: 2, 32, 16 and 2 lowercase hex digits (55 bytes).
  static func isTraceParent(_ value: String) -> Bool {
    let bytes = Array(value.utf8)
    guard bytes.count == 55 else { return false }
    for (index, byte) in bytes.enumerated() {
      if index == 2 || index == 35 || index == 52 {
        guard byte == UInt8(ascii: "-") else { return false }
      } else {
        let digit = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66)
        guard digit else { return false }
      }
    }
    return true
  }

  /// At most 512 bytes of printable ASCII in at most 32 comma-separated members, as W3C bounds it.
  static func isTraceState(_ value: String) -> Bool {
    let bytes = value.utf8
    guard bytes.count <= 512 else { return false }
    var members = 1
    for byte in bytes {
      guard byte >= 0x20 && byte <= 0x7E else { return false }
      if byte == UInt8(ascii: ",") { members += 1 }
    }
    return members <= 32
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
