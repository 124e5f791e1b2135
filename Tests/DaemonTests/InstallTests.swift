import Foundation
import Testing
import TestSupport

/// deploy/install.sh into a scratch root (`--destdir`): the layout a node gets, idempotence, files that were
/// already there left alone, and `--uninstall` removing exactly what was installed.
@Suite(.serialized) struct InstallTests {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

  static func install(_ root: String, _ extra: String = "") throws -> String {
    try TestEnvironment.shell(
      "\(repository)/deploy/install.sh --destdir \(root) --binaries \(DaemonHarness.productsDirectory) --no-packages \(extra) 2>&1")
  }

  @Test func installsIdempotentlyAndUninstallsOnlyWhatItInstalled() throws {
    let root = try TestEnvironment.temporaryDirectory("crisp-install")
    defer { try? FileManager.default.removeItem(atPath: root) }
    let files = FileManager.default
    // Already on the node: a pod network's config and a CNI plugin of another vendor.
    try files.createDirectory(atPath: root + "/etc/cni/net.d", withIntermediateDirectories: true)
    try "{}".write(toFile: root + "/etc/cni/net.d/05-other.conflist", atomically: true, encoding: .utf8)
    try files.createDirectory(atPath: root + "/opt/cni/bin", withIntermediateDirectories: true)
    try "#!/bin/sh\n".write(toFile: root + "/opt/cni/bin/bridge", atomically: true, encoding: .utf8)

    let output = try Self.install(root)
    #expect(output.contains("systemd is not running here"), "\(output)")
    #expect(output.contains("/usr/local/bin/crisp --config"), "\(output)")
    // It ends with the node preflight's lines, whatever they say.
    #expect(output.contains("install.sh: crisp check:"), "\(output)")
    #expect(output.contains("runtime.runc") && output.contains("privileges.root"), "\(output)")
    for binary in ["crisp", "crisp-shim", "crisp-pause", "crispctl"] {
      #expect(files.isExecutableFile(atPath: root + "/usr/local/bin/" + binary), "\(binary)")
    }
    for file in [
      "/etc/crisp/config.toml", "/etc/crictl.yaml", "/etc/systemd/system/crisp.service",
      "/etc/systemd/system/kubelet.service.d/20-crisp.conf", "/etc/modules-load.d/crisp.conf", "/etc/sysctl.d/99-crisp.conf",
    ] {
      #expect(files.fileExists(atPath: root + file), "\(file)")
    }
    // The written configuration is one crisp accepts, readable by root only (it may hold credentials).
    let mode = try FileManager.default.attributesOfItem(atPath: root + "/etc/crisp/config.toml")[.posixPermissions] as? Int
    #expect(mode == 0o600)
    let check = try TestEnvironment.shell("\(root)/usr/local/bin/crisp config check \(root)/etc/crisp/config.toml 2>&1; echo status=$?")
    #expect(check.contains("status=0"), "\(check)")
    #expect(try String(contentsOfFile: root + "/etc/crictl.yaml", encoding: .utf8).contains("unix:///run/crisp/crisp.sock"))
    let unit = try String(contentsOfFile: root + "/etc/systemd/system/crisp.service", encoding: .utf8)
    for line in [
      "Type=notify", "Delegate=yes", "KillMode=process", "OOMScoreAdjust=-999", "LimitNOFILE=1048576", "TasksMax=infinity", "Restart=always",
    ] {
      #expect(unit.contains(line), "\(line)")
    }
    // The node's own network config and plugin are kept; the other plugins are linked from /usr/lib/cni.
    #expect(!files.fileExists(atPath: root + "/etc/cni/net.d/10-crisp-bridge.conflist"))
    #expect(try String(contentsOfFile: root + "/opt/cni/bin/bridge", encoding: .utf8) == "#!/bin/sh\n")
    #expect(try files.destinationOfSymbolicLink(atPath: root + "/opt/cni/bin/portmap") == "/usr/lib/cni/portmap")

    // An operator's edit survives a second run, which changes nothing else.
    try "# edited\n".write(toFile: root + "/etc/crisp/config.toml", atomically: true, encoding: .utf8)
    let manifestBefore = try String(contentsOfFile: root + "/var/lib/crisp/install-manifest", encoding: .utf8)
    _ = try Self.install(root)
    #expect(try String(contentsOfFile: root + "/etc/crisp/config.toml", encoding: .utf8) == "# edited\n")
    #expect(try String(contentsOfFile: root + "/var/lib/crisp/install-manifest", encoding: .utf8) == manifestBefore)

    let removal = try Self.install(root, "--uninstall")
    #expect(removal.contains("uninstalled"), "\(removal)")
    // The edited configuration is the operator's now: it stays (with its directory).
    #expect(removal.contains("keep /etc/crisp/config.toml"), "\(removal)")
    let left = try TestEnvironment.shell("cd \(root) && find . -mindepth 1 | sort").split(separator: "\n").map(String.init)
    #expect(
      left == [
        "./etc", "./etc/cni", "./etc/cni/net.d", "./etc/cni/net.d/05-other.conflist", "./etc/crisp", "./etc/crisp/config.toml",
        "./opt", "./opt/cni", "./opt/cni/bin", "./opt/cni/bin/bridge",
      ], "\(left)")
  }

  @Test func aFreshNodeGetsTheDefaultNetworkAndAContainerdImport() throws {
    let root = try TestEnvironment.temporaryDirectory("crisp-install")
    defer { try? FileManager.default.removeItem(atPath: root) }
    let containerd = root + "-containerd.toml"
    defer { try? FileManager.default.removeItem(atPath: containerd) }
    try """
    version = 2
    [plugins."io.containerd.grpc.v1.cri"]
      sandbox_image = "registry.example/pause:3.10"
    """.write(toFile: containerd, atomically: true, encoding: .utf8)
    _ = try Self.install(root, "--from-containerd \(containerd)")
    #expect(FileManager.default.fileExists(atPath: root + "/etc/cni/net.d/10-crisp-bridge.conflist"))
    let config = try String(contentsOfFile: root + "/etc/crisp/config.toml", encoding: .utf8)
    #expect(config.contains("registry.example/pause:3.10"), "\(config)")
    _ = try Self.install(root, "--uninstall")
    let left = try TestEnvironment.shell("cd \(root) && find . -mindepth 1 | wc -l").trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(left == "0")
  }
}
