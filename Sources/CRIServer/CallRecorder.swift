import GRPCCore
import Logging
import Metrics

/// Accounts for every RPC: logs each call at debug level with its method, duration and status code, so
/// `log.level = "debug"` shows exactly what kubelet asked, counts it (`crisp_grpc_requests_total{method,code}`,
/// `crisp_grpc_request_duration_seconds{method}`), and tells the idle trimmer.
struct CallRecorder: Sendable {
  let logger: Logger
  /// Told when calls start and end, to trim memory once the daemon is quiet.
  var trimmer: IdleTrimmer?

  func started(_ method: GRPCMethod) {
    trimmer?.activity(method.name)
  }

  /// Counts the finished call, and logs it at debug level.
  func finished(_ method: GRPCMethod, start: ContinuousClock.Instant, status: RPCError?) {
    let nanoseconds = (ContinuousClock.now - start).totalNanoseconds
    let code = status.map { "\($0.code)" } ?? "ok"
    trimmer?.activity(method.name)
    Counter(label: "crisp_grpc_requests_total", dimensions: [("method", method.name), ("code", code)]).increment()
    Metrics.Timer(label: "crisp_grpc_request_duration_seconds", dimensions: [("method", method.name)]).recordNanoseconds(nanoseconds)
    guard logger.logLevel <= .debug else { return }
    var metadata: Logger.Metadata = ["method": "\(method.path.dropFirst())", "duration_us": "\(nanoseconds / 1000)", "code": "\(code)"]
    if let status { metadata["error"] = "\(status.message)" }
    logger.debug("rpc", metadata: metadata)
  }

  /// A path no service here has; not counted, so a stray client cannot grow the metric families.
  func unknownMethod(_ path: String) {
    logger.debug("rpc", metadata: ["path": "\(path)", "code": "unimplemented"])
  }
}
