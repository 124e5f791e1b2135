public import Config
import Foundation
public import Logging

/// The daemon's log lines on standard error, as text or as one JSON object per line (for log shippers).
///
/// Text: `2026-11-24T12:00:00.123Z info crisp: serving address=/run/crisp/crisp.sock`.
/// JSON: `{"time":"…","level":"info","logger":"crisp","msg":"serving","address":"/run/crisp/crisp.sock"}`.
///
/// The level follows ``LogLevelSwitch/shared`` (so `log.level` reloads on SIGHUP) unless a logger sets its
/// own.
public struct LogOutput: LogHandler {
  public var logLevel: Logger.Level {
    get { pinnedLevel ?? LogLevelSwitch.shared.level }
    set { pinnedLevel = newValue }
  }
  public var metadata: Logger.Metadata = [:]
  private var pinnedLevel: Logger.Level?
  private let label: String
  private let format: CrispConfig.Log.Format

  /// A handler at `level`, or following the shared switch when `level` is nil.
  public init(label: String, level: Logger.Level? = nil, format: CrispConfig.Log.Format) {
    self.label = label
    self.pinnedLevel = level
    self.format = format
  }

  /// Installs this handler for the whole process, at `config.level` until a reload sets another.
  public static func bootstrap(_ config: CrispConfig.Log) {
    setLevel(config.level)
    LoggingSystem.bootstrap { label in LogOutput(label: label, format: config.format) }
  }

  /// Sets the level of every logger that follows the shared switch (a configuration reload).
  public static func setLevel(_ level: CrispConfig.Log.Level) {
    LogLevelSwitch.shared.set(Logger.Level(rawValue: level.rawValue) ?? .info)
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var fields = metadata
    if let extra = event.metadata { fields.merge(extra) { _, new in new } }
    let time = Self.timestamp()
    var line: String
    switch format {
    case .text:
      line = "\(time) \(event.level) \(label): \(event.message)"
      for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
        line += " \(key)=\(Self.quoteIfNeeded("\(value)"))"
      }
    case .json:
      var object: [String: String] = ["time": time, "level": "\(event.level)", "logger": label, "msg": "\(event.message)"]
      for (key, value) in fields where object[key] == nil { object[key] = "\(value)" }
      let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
      line = String(decoding: data, as: UTF8.self)
    }
    line += "\n"
    FileHandle.standardError.write(Data(line.utf8))
  }

  private static func quoteIfNeeded(_ value: String) -> String {
    if value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\n" }) {
      return "\""
        + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
    return value
  }

  /// RFC 3339 UTC with milliseconds.
  static func timestamp() -> String {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    var seconds = time_t(ts.tv_sec)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    let millis = Int(ts.tv_nsec) / 1_000_000
    func pad(_ value: Int32, _ width: Int) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
      + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
  }
}
