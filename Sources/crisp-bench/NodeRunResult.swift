/// What one endpoint did in the node scenario; turned into report rows by ``NodeScenario``.
struct NodeRunResult: Sendable {
  /// Set when the endpoint could not be measured at all (no connection), with why.
  var failure: String?
  var podsStarted = 0
  var startSeconds: Double?
  var teardownSeconds: Double?
  /// CPU seconds of the runtime (how they were counted is ``cpuMethod``) spent starting and tearing down.
  var startCPU: Double?
  var teardownCPU: Double?
  var cpuMethod = ""
  var steadySeconds: Double?
  /// CPU seconds over the steady period: the daemon (own and reaped children), and all shims together.
  var daemonSteadyCPU: Double?
  var shimSteadyCPU: Double?
  var daemon: (rss: Double, pss: Double)?
  var shims: (rss: Double, pss: Double, count: Int)?
  var pauses: (rss: Double, pss: Double, count: Int)?
  var calls: [NodePhase: [String: [Double]]] = [:]
  var errorCount = 0
  var firstErrors: [String] = []
  var leftoverCount: Int?
  var leftoverDetail = ""
}
