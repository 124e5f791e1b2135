import CRIServer
import Config
import Foundation
import Logging
import Synchronization
import Testing

/// The reload itself, on real files in a temporary directory: which appliers run, what the running
/// snapshot becomes, and that a file failing to load changes nothing.
@Suite struct ConfigReloaderTests {
  /// The groups whose applier ran, in order, with the configuration each was given.
  final class AppliedLog: Sendable {
    let entries = Mutex<[(ReloadGroup, CrispConfig)]>([])
    var groups: [ReloadGroup] { entries.withLock { $0.map(\.0) } }
  }

  private static func reloader(main: String, live: LiveConfig, log: AppliedLog) -> ConfigReloader {
    var appliers: [ReloadGroup: ConfigReloader.Applier] = [:]
    for group in ReloadGroup.allCases {
      appliers[group] = { config in log.entries.withLock { $0.append((group, config)) } }
    }
    return ConfigReloader(
      source: ConfigReloadSource(path: main, required: true, overrides: { $0 }), live: live, appliers: appliers,
      logger: Logger(label: "test"))
  }

  @Test func aReloadRunsTheChangedGroupsAppliersAndKeepsRestartOnlyKeys() async throws {
    let directory = NSTemporaryDirectory() + "crisp-reload-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: directory + "/config.d", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let main = directory + "/config.toml"
    try "[log]\nlevel = \"info\"\n".write(toFile: main, atomically: true, encoding: .utf8)
    let live = LiveConfig(try ConfigLoader.load(path: main, required: true))
    let log = AppliedLog()
    let reloader = Self.reloader(main: main, live: live, log: log)

    // Nothing changed: no applier runs.
    #expect(await reloader.reload() == .reloaded(applied: [], needsRestart: []))
    #expect(log.groups.isEmpty)

    try "root = \"/elsewhere\"\n[log]\nlevel = \"debug\"\n[cni]\nip_pref = \"ipv6\"\n"
      .write(toFile: directory + "/config.d/10-x.toml", atomically: true, encoding: .utf8)
    #expect(await reloader.reload() == .reloaded(applied: ["log.level", "cni.ip_pref"], needsRestart: ["root"]))
    #expect(log.groups == [.logLevel, .cni])
    #expect(live.current.log.level == .debug)
    #expect(live.current.cni.ipPref == .ipv6)
    #expect(live.current.root == "/var/lib/crisp")
    // Each applier saw the configuration that was then swapped in.
    #expect(log.entries.withLock { $0.allSatisfy { $0.1 == live.current } })

    // A drop-in that fails: nothing applied, nothing swapped, the error names the file and line.
    let before = live.current
    try "\n\n[cni]\nip_pref = \"ipv5\"\n".write(toFile: directory + "/config.d/20-bad.toml", atomically: true, encoding: .utf8)
    let outcome = await reloader.reload()
    guard case .failed(let error) = outcome else {
      Issue.record("a bad drop-in reloaded: \(outcome)")
      return
    }
    #expect(error.source == directory + "/config.d/20-bad.toml")
    #expect(error.line == 4)
    #expect(live.current == before)
    #expect(log.groups == [.logLevel, .cni])
  }
}
