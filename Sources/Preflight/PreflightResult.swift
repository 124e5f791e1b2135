/// One line of `crisp check`: a named check, what it found, and what to do when that is not ok.
public struct PreflightResult: Sendable, Equatable, Encodable {
  /// ok: nothing to do; warn: crisp runs, with the cost named in the message; fail: crisp (or pods) will not work.
  public enum Status: String, Sendable, Equatable, Encodable, Comparable {
    case ok, warn, fail

    private var rank: Int {
      switch self {
      case .ok: 0
      case .warn: 1
      case .fail: 2
      }
    }
    public static func < (a: Status, b: Status) -> Bool { a.rank < b.rank }
  }

  /// A stable dotted name (`kernel.overlayfs`, `runtime.runc`, …): scripts and tests match on it.
  public var check: String
  public var status: Status
  /// What was found, in words.
  public var message: String
  /// What the operator should do; empty when the status is ok.
  public var remedy: String

  public init(_ check: String, _ status: Status, _ message: String, remedy: String = "") {
    self.check = check
    self.status = status
    self.message = message
    self.remedy = remedy
  }

  public static func ok(_ check: String, _ message: String) -> PreflightResult { .init(check, .ok, message) }
  public static func warn(_ check: String, _ message: String, remedy: String) -> PreflightResult { .init(check, .warn, message, remedy: remedy) }
  public static func fail(_ check: String, _ message: String, remedy: String) -> PreflightResult { .init(check, .fail, message, remedy: remedy) }
}
