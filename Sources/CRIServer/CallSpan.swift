import SwiftProtobuf
import Tracing

/// The span of the RPC the current task serves, while tracing is on: the typed method wrappers
/// (``GRPCMethod``) add the ids named by the request and the answer to it, once they are decoded.
enum CallSpan {
  @TaskLocal static var current: (any Span)?

  /// Adds what `message` says about the pod or container it concerns, when a span is being recorded.
  static func describe(_ message: some Message) {
    guard let span = current, let described = message as? any SpanDescribing else { return }
    described.describe(span)
  }
}
