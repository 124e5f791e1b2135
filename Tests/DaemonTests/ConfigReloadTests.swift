import CRIAPI
import Foundation
import Testing
import TestSupport

/// SIGHUP on the built daemon: a drop-in's reloadable keys take effect without a restart, a restart-only
/// key is logged and kept, and a drop-in that fails to load changes nothing and is named in the log.
@Suite(.serialized) struct ConfigReloadTests {
  /// The daemon's effective configuration, as the verbose Status shows it.
  private static func effectiveConfig(_ daemon: DaemonHarness) async throws -> [String: Any] {
    let info = try await daemon.withClients { runtime, _ in try await runtime.status(.with { $0.verbose = true }).info }
    let object = try JSONSerialization.jsonObject(with: Data((info["config"] ?? "").utf8))
    return try #require(object as? [String: Any])
  }

  private static func podAnnotations(_ config: [String: Any]) -> [String]? {
    let runtime = config["runtime"] as? [String: Any]
    let handlers = runtime?["handlers"] as? [String: Any]
    return (handlers?["runc"] as? [String: Any])?["pod_annotations"] as? [String]
  }

  private static func logLevel(_ config: [String: Any]) -> String? { (config["log"] as? [String: Any])?["level"] as? String }

  /// Waits until the daemon's log has `count` occurrences of `text`.
  private static func waitForLog(_ daemon: DaemonHarness, _ text: String, count: Int = 1) throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline {
      if daemon.log.components(separatedBy: text).count - 1 >= count { return }
      usleep(50_000)
    }
    throw HarnessError("no \"\(text)\" (\(count)x) in the daemon log: \(daemon.log)")
  }

  @Test func sighupAppliesADropInKeepsRestartOnlyKeysAndSurvivesABadOne() async throws {
    let daemon = try DaemonHarness()
    try daemon.writeConfig(
      """
      [log]
      level = "info"
      [runtime.handlers.runc]
      binary = "/usr/bin/runc"
      """)
    let dropIns = daemon.directory + "/config.d"
    try FileManager.default.createDirectory(atPath: dropIns, withIntermediateDirectories: true)
    // No --log-level: a flag would keep winning over the files.
    let process = try daemon.start(arguments: ["--config", daemon.configPath, "--root", daemon.root, "--state", daemon.state])

    let before = try await Self.effectiveConfig(daemon)
    #expect(Self.podAnnotations(before) == [])
    #expect(Self.logLevel(before) == "info")
    // At info level a call is not logged.
    _ = try await daemon.withClients { runtime, _ in try await runtime.version(.init()) }
    #expect(!daemon.log.contains("method=runtime.v1.RuntimeService/Version"))

    try """
    max_concurrent_downloads = 7
    [log]
    level = "debug"
    [runtime.handlers.runc]
    pod_annotations = ["io.example.*"]
    """.write(toFile: dropIns + "/10-reload.toml", atomically: true, encoding: .utf8)
    kill(process.processIdentifier, SIGHUP)
    try Self.waitForLog(daemon, "config reload: applied")

    let after = try await Self.effectiveConfig(daemon)
    #expect(Self.podAnnotations(after) == ["io.example.*"])
    #expect(Self.logLevel(after) == "debug")
    // Restart-only: logged by name and kept.
    #expect(after["max_concurrent_downloads"] as? Int == 3)
    #expect(daemon.log.contains("config reload: max_concurrent_downloads changed; needs a restart, keeping 3"))
    // The new level is in force for every logger: calls are logged now.
    _ = try await daemon.withClients { runtime, _ in try await runtime.version(.init()) }
    try Self.waitForLog(daemon, "method=runtime.v1.RuntimeService/Version")

    // A drop-in with a bad value: the daemon keeps running on the configuration it had, and says where.
    try "\n[log]\nlevel = \"loud\"\n".write(toFile: dropIns + "/20-bad.toml", atomically: true, encoding: .utf8)
    kill(process.processIdentifier, SIGHUP)
    try Self.waitForLog(daemon, "config reload failed")
    #expect(daemon.log.contains("\(dropIns)/20-bad.toml:3: key log.level: \"loud\" is not one of"))
    #expect(process.isRunning)
    let kept = try await Self.effectiveConfig(daemon)
    #expect(Self.podAnnotations(kept) == ["io.example.*"])
    #expect(Self.logLevel(kept) == "debug")

    // Fixed and reloaded again: applied, the daemon never restarted.
    // (The summary is logged at info, under the new level: so back to info, not above it.)
    try "[log]\nlevel = \"info\"\n".write(toFile: dropIns + "/20-bad.toml", atomically: true, encoding: .utf8)
    kill(process.processIdentifier, SIGHUP)
    try Self.waitForLog(daemon, "config reload: applied", count: 2)
    #expect(Self.logLevel(try await Self.effectiveConfig(daemon)) == "info")
    #expect(process.processIdentifier == daemon.process?.processIdentifier && process.isRunning)

    daemon.signal(SIGTERM)
    #expect(try daemon.waitForExit() == 0)
  }

  @Test func configDumpAndCheckNameTheDropIns() throws {
    let daemon = try DaemonHarness()
    try daemon.writeConfig("[log]\nlevel = \"info\"")
    let dropIns = daemon.directory + "/config.d"
    try FileManager.default.createDirectory(atPath: dropIns, withIntermediateDirectories: true)
    try "[log]\nlevel = \"debug\"\n".write(toFile: dropIns + "/10-debug.toml", atomically: true, encoding: .utf8)

    let dump = try daemon.runToExit(["config", "dump", "--config", daemon.configPath])
    #expect(dump.status == 0)
    #expect(dump.output.contains("level = \"debug\"  # from \(dropIns)/10-debug.toml"))
    #expect(dump.output.contains("conf_dir = \"\(daemon.cniConfDir)\"  # from \(daemon.configPath)"))

    let check = try daemon.runToExit(["config", "check", daemon.configPath])
    #expect(check.status == 0)
    #expect(check.output.contains("OK, with 1 drop-in(s): \(dropIns)/10-debug.toml"))

    try "[log]\nlevle = \"debug\"\n".write(toFile: dropIns + "/20-typo.toml", atomically: true, encoding: .utf8)
    let bad = try daemon.runToExit(["config", "check", daemon.configPath])
    #expect(bad.status == 1)
    #expect(bad.output.contains("\(dropIns)/20-typo.toml:2: key log.levle: unknown key"))
    // The daemon refuses to start on it, naming the same place.
    let start = try daemon.runToExit(["--config", daemon.configPath, "--root", daemon.root, "--state", daemon.state])
    #expect(start.status == 1)
    #expect(start.output.contains("\(dropIns)/20-typo.toml:2: key log.levle: unknown key"))
  }
}
