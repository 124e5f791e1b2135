import Glibc

/// Signal names as images and kubelet write them (`SIGTERM`, `TERM`, `15`, `SIGRTMIN+3`), as numbers.
public enum SignalNames {
  static let byName: [String: Int32] = [
    "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT, "IOT": SIGABRT,
    "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2, "PIPE": SIGPIPE,
    "ALRM": SIGALRM, "TERM": SIGTERM, "STKFLT": SIGSTKFLT, "CHLD": SIGCHLD, "CLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP,
    "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ,
    "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO, "POLL": SIGIO, "PWR": SIGPWR, "SYS": SIGSYS,
  ]

  /// `SIG<NAME>` for a signal given by name (with or without `SIG`, any case) or number, nil when it names
  /// none: the one spelling ContainerStatus reports and StopContainer sends. Real-time signals keep their
  /// `RTMIN+n` / `RTMAX-n` form.
  public static func canonicalName(_ signal: String) -> String? {
    guard signal.utf8.count <= 16, let number = number(signal) else { return nil }
    if let name = byName.filter({ $0.value == number && $0.key != "IOT" && $0.key != "POLL" }).map(\.key).min() { return "SIG" + name }
    // Numbers 34...64 are the real-time signals.
    let rtmin: Int32 = 34, rtmax: Int32 = 64
    guard number >= rtmin, number <= rtmax else { return nil }
    let middle = (rtmin + rtmax) / 2
    return number <= middle
      ? (number == rtmin ? "SIGRTMIN" : "SIGRTMIN+\(number - rtmin)") : (number == rtmax ? "SIGRTMAX" : "SIGRTMAX-\(rtmax - number)")
  }

  /// The number of `name`, nil when it is not a signal this table knows (the runtime then parses it).
  public static func number(_ name: String) -> Int32? {
    if let value = Int32(name) { return (1...64).contains(value) ? value : nil }
    var upper = name.uppercased()
    if upper.hasPrefix("SIG") { upper.removeFirst(3) }
    if let value = byName[upper] { return value }
    // Real-time signals: glibc reserves the first two, so RTMIN is 34 for programs (runc's table agrees).
    let rtmin: Int32 = 34, rtmax: Int32 = 64
    if upper.hasPrefix("RTMIN") {
      let rest = upper.dropFirst(5)
      if rest.isEmpty { return rtmin }
      guard rest.first == "+", let offset = UInt8(rest.dropFirst()), offset <= 30 else { return nil }
      return rtmin + Int32(offset)
    }
    if upper.hasPrefix("RTMAX") {
      let rest = upper.dropFirst(5)
      if rest.isEmpty { return rtmax }
      guard rest.first == "-", let offset = UInt8(rest.dropFirst()), offset <= 30 else { return nil }
      return rtmax - Int32(offset)
    }
    return nil
  }
}
