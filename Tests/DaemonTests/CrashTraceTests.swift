import TestSupport
import Foundation
import Testing

/// A crash of the daemon must leave a trace: with the SWIFT_BACKTRACE setting of deploy/crisp.service
/// (the harness uses the same), a fatal signal or a Swift trap writes the crashed thread's backtrace to
/// the daemon's stderr before it dies. Tested from outside, as an operator would see it: a started daemon
/// is sent the signal a trap raises (SIGILL on x86-64, SIGTRAP on arm64), a bad pointer's SIGSEGV, or an
/// abort's SIGABRT, and its log must name the signal and show frames in crisp.
@Suite(.serialized) struct CrashTraceTests {
  @Test(arguments: [SIGSEGV, SIGABRT, SIGILL])
  func fatalSignalLogsABacktrace(signal: Int32) async throws {
    let daemon = try DaemonHarness()
    defer { daemon.stop() }
    try daemon.writeConfig("cgroup_driver = \"cgroupfs\"")
    try daemon.start()
    let before = daemon.log.count
    daemon.signal(signal)
    // The backtracer symbolicates before it lets the process go on dying (seconds for a debug build).
    let deadline = ContinuousClock.now + .seconds(120)
    var log = ""
    while ContinuousClock.now < deadline {
      log = String(daemon.log.dropFirst(before))
      if log.contains("Backtrace took") { break }
      try await Task.sleep(for: .milliseconds(200))
    }
    #expect(log.contains("*** Signal \(signal): Backtracing"), "\(log.suffix(2000))")
    #expect(log.contains("*** Program crashed:"), "\(log.suffix(2000))")
    // kill(2) delivers the signal to whichever thread the kernel picks, so any thread may be the crashed one.
    #expect(log.split(separator: "\n").contains { $0.hasPrefix("Thread ") && $0.hasSuffix("crashed:") }, "\(log.suffix(2000))")
    // At least one symbolicated frame: `N 0x… function + offset in image`.
    let frames = log.split(separator: "\n").filter { $0.contains(" 0x") && $0.contains(" in ") }
    #expect(!frames.isEmpty, "\(log.suffix(2000))")
    // A real fault or trap re-executes and ends the process; a signal sent with kill(2) is reported the
    // same way, after which the runtime returns from its handler, so the harness stops the daemon.
  }
}
