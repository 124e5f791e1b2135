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
    try daemon.writeConfig("cgroup_driver = \"cgroupfs\"")
    try daemon.start()
    let before = daemon.log
    daemon.signal(signal)
    let status = try daemon.waitForExit(timeout: .seconds(60))
    #expect(status == 128 + signal, "exit status \(status)")
    let log = String(daemon.log.dropFirst(before.count))
    #expect(log.contains("*** Signal \(signal): Backtracing"), "\(log.suffix(2000))")
    #expect(log.contains("*** Program crashed:"), "\(log.suffix(2000))")
    // Frames of every thread, at least one of them in crisp's own code.
    #expect(log.contains("Thread 0"), "\(log.suffix(2000))")
    #expect(log.split(separator: "\n").contains { $0.contains(" in crisp") }, "\(log.suffix(4000))")
  }
}
