import Tracing

/// A CRI message that names a pod sandbox or container: the ids it carries become attributes of its call's
/// span, so a trace can be found by pod or container.
protocol SpanDescribing {
  func describe(_ span: any Span)
}

extension Span {
  /// Sets `key` from a request's text, cut to `limit` bytes: a request is any client's and may hold
  /// megabytes in a name, and a span keeps its attributes until it is exported. It is described before
  /// the handler validates it.
  func setRequestText(_ key: String, _ value: String, limit: Int = 256) {
    attributes[key] = value.utf8.count <= limit ? value : String(decoding: value.utf8.prefix(limit), as: UTF8.self)
  }
}
