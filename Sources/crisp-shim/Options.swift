/// The shim's command line, as crisp passes it.
struct Options {
  var id: [UInt8] = []
  var bundle: [UInt8] = []
  var stateDirectory: [UInt8] = []
  var runtime: [UInt8] = []
  var runtimeRoot: [UInt8] = []
  var logPath: [UInt8] = []
  var maxLine = 16 * 1024
  var tty = false
  var stdin = false
  var stdinOnce = false
  var systemdCgroup = false
  /// The container's memory cgroup directory, read for OOM kills when it exits.
  var cgroupDirectory: [UInt8] = []
  /// The oom_score_adj the shim gives itself (so the node kills containers before their shims).
  var oomScore: Int?
  /// Where to report "ok <pid>" or "error <message>" once `runc create` is done.
  var syncFD: Int32 = -1

  static func parse(_ arguments: [String]) -> Options? {
    var options = Options()
    var index = 1
    func value() -> [UInt8]? {
      index += 1
      return index < arguments.count ? Array(arguments[index].utf8) : nil
    }
    while index < arguments.count {
      switch arguments[index] {
      case "--id": guard let v = value() else { return nil }; options.id = v
      case "--bundle": guard let v = value() else { return nil }; options.bundle = v
      case "--state-dir": guard let v = value() else { return nil }; options.stateDirectory = v
      case "--runtime": guard let v = value() else { return nil }; options.runtime = v
      case "--runtime-root": guard let v = value() else { return nil }; options.runtimeRoot = v
      case "--log-path": guard let v = value() else { return nil }; options.logPath = v
      case "--cgroup-dir": guard let v = value() else { return nil }; options.cgroupDirectory = v
      case "--max-line": guard let v = value(), let n = Bytes.parseInt(v[...]) else { return nil }; options.maxLine = n
      case "--oom-score": guard let v = value(), let n = Bytes.parseInt(v[...]) else { return nil }; options.oomScore = n
      case "--sync-fd": guard let v = value(), let n = Bytes.parseInt(v[...]), let fd = Int32(exactly: n) else { return nil }; options.syncFD = fd
      case "--tty": options.tty = true
      case "--stdin": options.stdin = true
      case "--stdin-once": options.stdinOnce = true
      case "--systemd-cgroup": options.systemdCgroup = true
      default: return nil
      }
      index += 1
    }
    guard !options.id.isEmpty, !options.bundle.isEmpty, !options.stateDirectory.isEmpty, !options.runtime.isEmpty else { return nil }
    return options
  }
}
