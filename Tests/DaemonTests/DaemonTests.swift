import TestSupport
import CRIAPI
import Foundation
import GRPCCore
import Testing

/// The built daemon, end to end over its socket. Runs as root, like the daemon itself.
@Suite(.serialized) struct DaemonTests {
  static let conflist = """
    {"cniVersion": "1.0.0", "name": "crisp-test", "plugins": [{"type": "bridge", "bridge": "crisptest0"}]}
    """

  @Test func servesVersionStatusAndRuntimeConfig() async throws {
    let daemon = try DaemonHarness()
    try daemon.writeConfig(
      """
      cgroup_driver = "cgroupfs"
      """)
    try daemon.start()

    // Socket 0660 owned by root; its directory (created by crisp) 0711.
    let socketInfo = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)
    #expect((socketInfo[.posixPermissions] as? Int) == 0o660)
    #expect((socketInfo[.ownerAccountID] as? Int) == 0)
    #expect((socketInfo[.type] as? FileAttributeType) == .typeSocket)
    let stateInfo = try FileManager.default.attributesOfItem(atPath: daemon.state)
    #expect((stateInfo[.posixPermissions] as? Int) == 0o711)

    let confDir = daemon.cniConfDir
    try await daemon.withClients { runtime, images in
      let version = try await runtime.version(.with { $0.version = "0.1.0" })
      #expect(version.version == "0.1.0")
      #expect(version.runtimeName == "crisp")
      #expect(version.runtimeVersion == "0.1.0")
      #expect(version.runtimeApiVersion == "v1")

      let status = try await runtime.status(.init())
      let conditions = Dictionary(uniqueKeysWithValues: status.status.conditions.map { ($0.type, $0) })
      #expect(status.status.conditions.map(\.type) == ["RuntimeReady", "NetworkReady"])
      #expect(conditions["RuntimeReady"]?.status == true)
      #expect(conditions["RuntimeReady"]?.reason == "")
      #expect(conditions["NetworkReady"]?.status == false)
      #expect(conditions["NetworkReady"]?.reason == "NetworkPluginNotReady")
      #expect(conditions["NetworkReady"]?.message.contains(confDir) == true)
      #expect(status.info.isEmpty)
      #expect(status.runtimeHandlers.map(\.name).contains(""))
      #expect(status.runtimeHandlers.map(\.name).contains("runc"))

      // A network add-on dropping its config in flips NetworkReady without a restart.
      try Self.conflist.write(toFile: confDir + "/10-crisp.conflist", atomically: true, encoding: .utf8)
      let ready = try await runtime.status(.with { $0.verbose = true })
      #expect(ready.status.conditions.first { $0.type == "NetworkReady" }?.status == true)
      #expect(ready.status.conditions.first { $0.type == "NetworkReady" }?.reason == "")

      // Verbose info: every value is a JSON document.
      for key in ["config", "versions", "sandboxImage", "cniconfig", "lastCNILoadStatus", "cdi"] {
        let value = try #require(ready.info[key], "info lacks \(key)")
        #expect(throws: Never.self) { try JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed]) }
      }
      let config = try #require(try JSONSerialization.jsonObject(with: Data((ready.info["config"] ?? "").utf8)) as? [String: Any])
      #expect(config["root"] as? String == daemon.root)
      #expect(ready.info["sandboxImage"] == "\"registry.k8s.io/pause:3.10\"")
      #expect(ready.info["cniconfig"]?.contains("crisp-test") == true)

      let runtimeConfig = try await runtime.runtimeConfig(.init())
      #expect(runtimeConfig.linux.cgroupDriver == .cgroupfs)

      // The metric descriptors are cAdvisor's names, each with its label keys.
      let descriptors = try await runtime.listMetricDescriptors(.init()).descriptors
      #expect(descriptors.contains { $0.name == "container_cpu_usage_seconds_total" && $0.labelKeys.contains("pod") })
      #expect(descriptors.allSatisfy { !$0.help.isEmpty && !$0.labelKeys.isEmpty })
      // A request without its config names the missing field.
      do {
        _ = try await runtime.runPodSandbox(.init())
        Issue.record("RunPodSandbox without config answered")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("config"))
      }
      do {
        _ = try await runtime.checkpointContainer(.init())
        Issue.record("CheckpointContainer answered")
      } catch let error as RPCError {
        #expect(error.code == .unimplemented)
        #expect(error.message.contains("CheckpointContainer"))
      }
      // The built-in pause image is there from the first start, pinned, with no registry involved.
      let pause = try await images.imageStatus(.with { $0.image.image = "registry.k8s.io/pause:3.10" })
      #expect(pause.image.pinned)
      #expect(pause.image.repoTags == ["registry.k8s.io/pause:3.10"])
    }
    // Every call is logged at debug level with method, duration and status code.
    let log = daemon.log
    #expect(log.contains("method=runtime.v1.RuntimeService/Version"))
    #expect(log.contains("code=unimplemented") && log.contains("method=runtime.v1.RuntimeService/CheckpointContainer"))
    #expect(log.contains("duration_us="))

    daemon.signal(SIGTERM)
    #expect(try daemon.waitForExit() == 0)
    #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
  }

  @Test func runtimeConfigFollowsTheConfiguredDriver() async throws {
    let daemon = try DaemonHarness()
    try daemon.writeConfig("cgroup_driver = \"systemd\"")
    try daemon.start()
    let driver = try await daemon.withClients { runtime, _ in try await runtime.runtimeConfig(.init()).linux.cgroupDriver }
    #expect(driver == .systemd)
  }

  @Test func runtimeNotReadyWhenTheHandlerBinaryIsMissing() async throws {
    let daemon = try DaemonHarness()
    try daemon.writeConfig(
      """
      [runtime]
      default_handler = "ghost"
      [runtime.handlers.ghost]
      binary = "/nonexistent/ghost-runtime"
      """)
    try daemon.start()
    let condition = try await daemon.withClients { runtime, _ in
      try await runtime.status(.init()).status.conditions.first { $0.type == "RuntimeReady" }
    }
    #expect(condition?.status == false)
    #expect(condition?.reason == "RuntimeHandlerUnavailable")
    #expect(condition?.message.contains("/nonexistent/ghost-runtime") == true)
  }

  /// Start-up tries each runtime handler with a throwaway container from the pause image. The pause image's
  /// layer is shared by every pod, so the probe runs on a root of its own: after start-up (and a restart,
  /// which probes again) the layer holds exactly what the image does, and the probe's root is gone.
  @Test func probingTheHandlersLeavesThePauseLayerAsUnpacked() async throws {
    let daemon = try DaemonHarness()
    try daemon.start()
    let status = try await daemon.withClients { runtime, _ in try await runtime.status(.init()) }
    #expect(status.status.conditions.first { $0.type == "RuntimeReady" }?.status == true)
    func snapshotTrees() throws -> [String: [String]] {
      let snapshots = daemon.root + "/snapshots"
      var trees: [String: [String]] = [:]
      for name in try FileManager.default.contentsOfDirectory(atPath: snapshots) where !name.hasPrefix(".") {
        let fs = snapshots + "/" + name + "/fs"
        trees[name] = (FileManager.default.enumerator(atPath: fs)?.allObjects as? [String] ?? []).sorted()
      }
      return trees
    }
    // One snapshot: the pause layer, holding the pause program and nothing runc made.
    let first = try snapshotTrees()
    #expect(Array(first.values) == [["pause"]], "\(first)")
    daemon.signal(SIGTERM)
    _ = try daemon.waitForExit()
    try daemon.start()
    let again = try snapshotTrees()
    #expect(Array(again.values) == [["pause"]], "\(again)")
  }

  @Test func restartsAfterKill9OnTheSamePaths() async throws {
    let daemon = try DaemonHarness()
    try daemon.start()
    daemon.signal(SIGKILL)
    _ = try daemon.waitForExit()
    // The killed daemon left its socket file behind.
    #expect(FileManager.default.fileExists(atPath: daemon.socketPath))
    #expect(!DaemonHarness.canConnect(daemon.socketPath))

    try daemon.start()
    let version = try await daemon.withClients { runtime, _ in try await runtime.version(.init()) }
    #expect(version.runtimeName == "crisp")
    #expect(daemon.log.contains("replacing stale socket"))
  }

  @Test func aSecondDaemonOnALiveSocketRefuses() async throws {
    let daemon = try DaemonHarness()
    try daemon.start()
    let second = try daemon.runToExit(["--config", daemon.configPath, "--root", daemon.root, "--state", daemon.state])
    #expect(second.status != 0)
    #expect(second.output.contains("another crisp daemon"))
    #expect(second.output.contains(daemon.socketPath))
    // A different root does not help: the socket is taken.
    let otherRoot = try daemon.runToExit([
      "--config", daemon.configPath, "--root", daemon.directory + "/root2", "--address", daemon.socketPath, "--state", daemon.state,
    ])
    #expect(otherRoot.status != 0)
    // The first daemon is unaffected.
    let version = try await daemon.withClients { runtime, _ in try await runtime.version(.init()) }
    #expect(version.runtimeApiVersion == "v1")
  }

  @Test func aForeignListenerOnTheSocketIsNotTakenOver() throws {
    let daemon = try DaemonHarness()
    try FileManager.default.createDirectory(atPath: daemon.state, withIntermediateDirectories: true)
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(daemon.socketPath.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    #expect(bound == 0)
    #expect(listen(fd, 4) == 0)
    let result = try daemon.runToExit(["--config", daemon.configPath, "--root", daemon.root, "--state", daemon.state])
    #expect(result.status != 0)
    #expect(result.output.contains("another process is already serving"))
    #expect(DaemonHarness.canConnect(daemon.socketPath))
  }

  @Test func aBadConfigurationStopsStartUpNamingTheKey() throws {
    let daemon = try DaemonHarness()
    try daemon.writeConfig("max_concurrent_downloads = 0")
    let result = try daemon.runToExit(["--config", daemon.configPath, "--root", daemon.root, "--state", daemon.state])
    #expect(result.status == 1)
    #expect(result.output.contains("config.toml:1: key max_concurrent_downloads: must be at least 1"))
    #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))

    let missing = try daemon.runToExit(["--config", daemon.directory + "/absent.toml", "--state", daemon.state])
    #expect(missing.status == 1)
    #expect(missing.output.contains("absent.toml: no such file"))
  }

  @Test func oomScoreIsAppliedOrClampedNeverFatal() throws {
    let daemon = try DaemonHarness()
    let process = try daemon.start()
    let score = try String(contentsOfFile: "/proc/\(process.processIdentifier)/oom_score_adj", encoding: .utf8)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    if score != "-999" {
      // Without CAP_SYS_RESOURCE the kernel refuses to lower the score: one warning, and crisp serves.
      #expect(daemon.log.contains("refused to lower oom_score_adj"))
    }
  }

  @Test func crispctlVersionAndInfo() throws {
    let daemon = try DaemonHarness()
    try daemon.start()
    let version = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["version", "--address", daemon.socketPath])
    #expect(version.status == 0)
    #expect(version.output == "Version:  0.1.0\nRuntimeName:  crisp\nRuntimeVersion:  0.1.0\nRuntimeApiVersion:  v1\n")

    let viaEnvironment = try DaemonHarness.run(
      DaemonHarness.crispctlBinary, ["version"], environment: ["CRISP_ADDRESS": "unix://" + daemon.socketPath])
    #expect(viaEnvironment.output.contains("RuntimeName:  crisp"))

    let info = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["info", "--address", daemon.socketPath])
    #expect(info.status == 0)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(info.output.utf8)) as? [String: Any])
    let infoMap = try #require(object["info"] as? [String: Any])
    #expect((infoMap["config"] as? [String: Any])?["root"] as? String == daemon.root)

    daemon.signal(SIGTERM)
    _ = try daemon.waitForExit()
    let down = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["version", "--address", daemon.socketPath])
    #expect(down.status != 0)
    #expect(down.output.contains(daemon.socketPath))
  }

  /// crispctl without a daemon says what is wrong with the socket in words, never the transport's error chain.
  @Test func crispctlExplainsAnUnreachableSocket() throws {
    let directory = try TestEnvironment.temporaryDirectory("crispctl-sock")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let missing = directory + "/crisp.sock"
    let absent = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["version", "--address", "unix://" + missing])
    #expect(absent.status == 1)
    #expect(
      absent.output
        == "crispctl: cannot connect to crisp at unix://\(missing): no such file (is crisp running? is --address or $CRISP_ADDRESS right?)\n")

    // A socket file nobody listens on (left by a killed daemon): refused.
    let stale = directory + "/stale.sock"
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in for (index, byte) in stale.utf8.enumerated() { buffer[index] = byte } }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    close(fd)
    #expect(bound == 0)
    let refused = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["images", "--address", stale])
    #expect(refused.status == 1)
    #expect(refused.output.hasPrefix("crispctl: cannot connect to crisp at unix://\(stale): connection refused"), "\(refused.output)")

    // A regular file where the socket should be.
    let file = directory + "/file.sock"
    try "".write(toFile: file, atomically: true, encoding: .utf8)
    let notSocket = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["version", "--address", file])
    #expect(notSocket.output == "crispctl: cannot connect to crisp at unix://\(file): not a socket\n")
  }
}
