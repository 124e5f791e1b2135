import Logging
import Synchronization

/// The debug log lines `CallRecorder` writes, one per recorded call ("Unary ok", "Block cancelled"), so a
/// test checks each call is recorded once, with the status it ended with.
final class CallLog: Sendable {
  private let lines = Mutex<[String]>([])

  var recorded: [String] { lines.withLock { $0 } }

  var logger: Logger {
    var logger = Logger(label: "crisp.test") { _ in Handler(log: self) }
    logger.logLevel = .debug
    return logger
  }

  fileprivate func append(_ line: String) {
    lines.withLock { $0.append(line) }
  }

  private struct Handler: LogHandler {
    let log: CallLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
      get { metadata[key] }
      set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
      guard event.message.description == "rpc", let fields = event.metadata, let code = fields["code"] else { return }
      let name = fields["method"].map { "\($0)".split(separator: "/").last.map(String.init) ?? "\($0)" } ?? fields["path"].map { "\($0)" } ?? "?"
      log.append("\(name) \(code)")
    }
  }
}
