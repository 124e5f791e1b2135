public import Tracing

/// Runs `body` as a child span of the CRI call being traced: an image layer's fetch, a CNI plugin, a runc
/// command, a shim launch. The parent is found through the task-local ``InstrumentationContext`` (the
/// `ServiceContext` of earlier swift-distributed-tracing releases) that the gRPC server sets for each call,
/// so deep code needs no context parameter.
///
/// Why not `withSpan` directly: crisp's code throws `CrispError` by type, which `withSpan` does not carry;
/// and outside a traced call (tracing off, or start-up and background work) there is no context at all, so
/// the body runs bare, without a span object or a task-local binding: tracing off costs one task-local read.
/// The name and attributes are evaluated only when a span is started. A thrown error is recorded on the span
/// and rethrown unchanged.
public func withChildSpan<T>(
  _ name: @autoclosure () -> String, attributes: @autoclosure () -> SpanAttributes = [:], isolation: isolated (any Actor)? = #isolation,
  _ body: () async throws(CrispError) -> T
) async throws(CrispError) -> T {
  guard InstrumentationContext.current != nil else { return try await body() }
  do {
    return try await withSpan(name(), ofKind: .internal, isolation: isolation) { span in
      span.attributes.merge(attributes())
      return try await body()
    }
  } catch {
    throw CrispError.from(error)
  }
}
