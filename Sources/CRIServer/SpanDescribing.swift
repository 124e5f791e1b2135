import Tracing

/// A CRI message that names a pod sandbox or container: the ids it carries become attributes of its call's
/// span, so a trace can be found by pod or container.
protocol SpanDescribing {
  func describe(_ span: any Span)
}
