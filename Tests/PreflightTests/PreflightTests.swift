import Config
import Foundation
import Glibc
import Preflight
import Testing
import TestSupport

/// `crisp check` on this machine: each check's status as this build host must give it (root, overlayfs on
/// ext4, hybrid cgroups, runc 1.1, Debian's crun 1.8 that cannot run on a hybrid layout, no
/// CAP_SYS_RESOURCE), then one broken thing at a time — a missing CNI plugin, an invalid hosts.toml, a CA
/// file that is not there, a runtime binary that does not exist — each a `fail` with its check's name,
/// through the functions and through the executable (exit status 1).
@Suite(.serialized) struct PreflightTests {
  /// A node layout in a temporary directory: root, state, a valid bridge network, an empty certs.d.
  final class Node {
    let directory: String
    var root: String { directory + "/root" }
    var state: String { directory + "/state" }
    var netd: String { directory + "/net.d" }
    var certs: String { directory + "/certs.d" }
    var configPath: String { directory + "/config.toml" }

    init() throws {
      directory = try TestEnvironment.temporaryDirectory("crisp-check")
      for path in [netd, certs] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
      try network(type: "bridge")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func network(type: String) throws {
      let conflist = """
        {"cniVersion": "1.0.0", "name": "check", "plugins": [
          {"type": "\(type)", "bridge": "crispcheck0", "ipam": {"type": "host-local", "subnet": "10.250.0.0/24"}},
          {"type": "portmap", "capabilities": {"portMappings": true}}]}
        """
      try conflist.write(toFile: netd + "/10-check.conflist", atomically: true, encoding: .utf8)
    }

    /// The configuration file: the node's paths, then `extra` TOML.
    func writeConfig(_ extra: String = "") throws {
      let text = """
        root = "\(root)"
        state = "\(state)"
        [cni]
        conf_dir = "\(netd)"
        bin_dirs = ["/opt/cni/bin", "/usr/lib/cni"]
        [registry]
        config_path = "\(certs)"
        \(extra)
        """
      try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func config() throws -> CrispConfig {
      try writeConfig()
      return try ConfigLoader.loadWithSources(path: configPath, required: true).config
    }

    func hostsFile(_ host: String, _ text: String) throws {
      try FileManager.default.createDirectory(atPath: certs + "/" + host, withIntermediateDirectories: true)
      try text.write(toFile: certs + "/\(host)/hosts.toml", atomically: true, encoding: .utf8)
    }
  }

  static var pause: String { DaemonHarness.productsDirectory + "/crisp-pause" }

  static func result(_ results: [PreflightResult], _ name: String) throws -> PreflightResult {
    try #require(results.first { $0.check == name }, "no \(name) in \(results.map(\.check))")
  }

  @Test func thisMachineGivesItsKnownStatuses() async throws {
    let node = try Node()
    let results = await Preflight(config: try node.config(), pauseBinary: Self.pause).run()
    let report = PreflightReport.text(results)
    for name in [
      "kernel.overlayfs", "kernel.br_netfilter", "kernel.net.bridge.bridge-nf-call-iptables", "kernel.net.ipv4.ip_forward",
      "kernel.user_namespaces", "kernel.idmapped_mounts", "kernel.security_module", "cgroups.version", "cgroups.controllers", "cgroups.driver",
      "runtime.runc", "cni.config", "cni.plugins", "registry.hosts", "storage.root", "privileges.root",
    ] {
      #expect(try Self.result(results, name).status == .ok, "\(name): \(report)")
    }
    // The layout this host has: v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified.
    if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified/cgroup.controllers"),
      FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/memory.limit_in_bytes")
    {
      #expect(try Self.result(results, "cgroups.version").message.hasPrefix("hybrid"), "\(report)")
    }
    #expect(try Self.result(results, "runtime.runc").message.contains("runc version"), "\(report)")
    // crun is not the default handler: when it cannot run here it warns with crun's own message, never fails.
    let crun = try Self.result(results, "runtime.crun")
    #expect(crun.status != .fail, "\(report)")
    if crun.status == .warn { #expect(crun.message.contains("cannot run a container here") || crun.message.contains("not an executable")) }
    // Without CAP_SYS_RESOURCE (this build host) the oom score cannot be lowered: a warning, crisp clamps.
    let capabilities =
      try String(contentsOfFile: "/proc/self/status", encoding: .utf8).split(separator: "\n")
      .first { $0.hasPrefix("CapEff:") }.flatMap { UInt64($0.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16) } ?? 0
    let oom = try Self.result(results, "privileges.oom_score_adj")
    #expect(oom.status == (capabilities & (1 << 24) != 0 ? .ok : .warn), "\(report)")
    #expect(PreflightReport.exitStatus(results) == 0, "\(report)")
    // Every probe cleaned up after itself: no scratch directory, no probe cgroup, no runtime state.
    let left = try FileManager.default.contentsOfDirectory(atPath: node.directory).filter { $0.hasPrefix(".crisp-check") }
    #expect(left.isEmpty)
    #expect(!FileManager.default.fileExists(atPath: node.root))
    #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/crisp-check-\(getpid())"))
    #expect(!(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).contains(".crisp-check-"))
  }

  @Test func missingCNIPluginFails() async throws {
    let node = try Node()
    try node.network(type: "no-such-plugin")
    let results = await Preflight(config: try node.config(), pauseBinary: Self.pause).run()
    let plugins = try Self.result(results, "cni.plugins")
    #expect(plugins.status == .fail)
    #expect(plugins.message.contains("\"no-such-plugin\""), "\(plugins.message)")
    #expect(!plugins.remedy.isEmpty)
    #expect(PreflightReport.exitStatus(results) == 1)
  }

  @Test func invalidCNIConfigurationFails() async throws {
    let node = try Node()
    try "{\"cniVersion\": \"1.0.0\", \"plugins\": [".write(toFile: node.netd + "/10-check.conflist", atomically: true, encoding: .utf8)
    let results = await Preflight(config: try node.config(), pauseBinary: Self.pause).run()
    let config = try Self.result(results, "cni.config")
    #expect(config.status == .fail)
    #expect(config.message.contains("10-check.conflist"), "\(config.message)")
  }

  @Test func invalidHostsFileFails() async throws {
    let node = try Node()
    try node.hostsFile("mirror.example:5000", "server = \"https://mirror.example:5000\"\n[host.\"https://m\"\ncapabilities = [\"pull\"]\n")
    try node.hostsFile("good.example", "server = \"https://good.example\"\n[host.\"https://cache.example\"]\ncapabilities = [\"pull\"]\n")
    let results = await Preflight(config: try node.config(), pauseBinary: Self.pause).run()
    let hosts = results.filter { $0.check == "registry.hosts" }
    #expect(hosts.count == 1, "\(hosts)")
    #expect(hosts.first?.status == .fail)
    #expect(hosts.first?.message.contains("mirror.example:5000/hosts.toml") == true, "\(hosts)")
    #expect(PreflightReport.exitStatus(results) == 1)
  }

  @Test func missingCAFileFails() async throws {
    let node = try Node()
    try node.hostsFile("private.example", "server = \"https://private.example\"\nca = \"/nonexistent/ca.pem\"\n")
    let results = await Preflight(config: try node.config(), pauseBinary: Self.pause).run()
    let hosts = try Self.result(results, "registry.hosts")
    #expect(hosts.status == .fail)
    #expect(hosts.message.contains("CA file /nonexistent/ca.pem: No such file or directory"), "\(hosts.message)")
  }

  @Test func missingRuntimeBinaryFails() async throws {
    let node = try Node()
    try node.writeConfig("[runtime.handlers.runc]\nbinary = \"/nonexistent/runc\"\n")
    let config = try ConfigLoader.loadWithSources(path: node.configPath, required: true).config
    let results = await Preflight(config: config, pauseBinary: Self.pause).run()
    let runc = try Self.result(results, "runtime.runc")
    #expect(runc.status == .fail)
    #expect(runc.message.contains("/nonexistent/runc is not an executable file"), "\(runc.message)")
    #expect(PreflightReport.exitStatus(results) == 1)
  }

  /// The executable: JSON output, one fail per broken thing, exit status 1; the healthy node exits 0.
  @Test func executableEndToEnd() throws {
    let node = try Node()
    try node.writeConfig()
    let healthy = try DaemonHarness.run(DaemonHarness.crispBinary, ["check", "--config", node.configPath], timeout: .seconds(120))
    #expect(healthy.status == 0, "\(healthy.output)")
    #expect(healthy.output.contains("ok    runtime.runc"), "\(healthy.output)")

    try node.network(type: "no-such-plugin")
    try node.hostsFile("mirror.example", "[host.\"https://m\"\n")
    try node.writeConfig("[runtime.handlers.runc]\nbinary = \"/nonexistent/runc\"\n")
    let broken = try DaemonHarness.run(
      DaemonHarness.crispBinary, ["check", "--config", node.configPath, "-o", "json"], timeout: .seconds(120))
    #expect(broken.status == 1, "\(broken.output)")
    let array = try #require(try JSONSerialization.jsonObject(with: Data(broken.output.utf8)) as? [[String: String]], "\(broken.output)")
    let failed = Set(array.filter { $0["status"] == "fail" }.compactMap { $0["check"] })
    #expect(failed == ["cni.plugins", "registry.hosts", "runtime.runc"], "\(broken.output)")
    for entry in array { #expect(Set(entry.keys) == ["check", "status", "message", "remedy"]) }

    let text = try DaemonHarness.run(DaemonHarness.crispBinary, ["check", "--config", node.configPath], timeout: .seconds(120))
    #expect(text.status == 1)
    #expect(text.output.contains("fail  cni.plugins"), "\(text.output)")

    let missing = try DaemonHarness.run(DaemonHarness.crispBinary, ["check", "--config", node.directory + "/nope.toml"])
    #expect(missing.status == 1)
    #expect(missing.output.contains("fail  config"), "\(missing.output)")
  }
}
