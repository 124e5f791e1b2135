/// Every CRI call the node scenario makes, timed, by phase and method, with the failures.
///
/// Bounded: at most ``maxSamples`` timings per phase and method and ``maxMessages`` error messages kept (the
/// error count goes on).
actor CallLog {
  static let maxSamples = 200_000
  static let maxMessages = 5

  private(set) var samples: [NodePhase: [String: [Double]]] = [:]
  private(set) var errorCount = 0
  private(set) var firstErrors: [String] = []

  func record(_ phase: NodePhase, _ method: String, seconds: Double) {
    var byMethod = samples[phase] ?? [:]
    var values = byMethod[method] ?? []
    guard values.count < Self.maxSamples else { return }
    values.append(seconds)
    byMethod[method] = values
    samples[phase] = byMethod
  }

  func fail(_ phase: NodePhase, _ method: String, _ error: any Error) {
    errorCount += 1
    if firstErrors.count < Self.maxMessages { firstErrors.append("\(phase.rawValue) \(method): \(String(describing: error).prefix(300))") }
  }

  /// An error of the bench's own (not a failed call), counted with the others.
  func note(_ message: String) {
    errorCount += 1
    if firstErrors.count < Self.maxMessages { firstErrors.append(String(message.prefix(300))) }
  }
}
