import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// Pod networking with the real CNI plugins (bridge, host-local, portmap) on a bridge and subnet of each
/// test's own. Traffic goes only to the test's pod IPs and its bridge address.
@Suite(.serialized) struct NetworkTests {
  static func podIP(_ pods: PodHarness, _ pod: String) async throws -> String {
    try await pods.runtime { try await $0.podSandboxStatus(.with { $0.podSandboxID = pod }).status.network.ip }
  }

  static func text(_ response: Runtime_V1_ExecSyncResponse) -> String { String(decoding: response.stdout, as: UTF8.self) }

  /// What a pod's network may leave on the host: leases, veths on the bridge, iptables rules naming the subnet.
  static func leftovers(_ pods: PodHarness) throws -> [String] {
    var found = pods.network.leases.map { "lease \($0)" }
    let veths = try TestEnvironment.shell("ip -o link show master \(pods.network.bridge) 2>/dev/null || true")
    found += veths.split(separator: "\n").map { "veth \($0.prefix(60))" }
    let rules = try TestEnvironment.shell("iptables-save 2>/dev/null | grep -F '\(pods.network.prefix).' || true")
    found += rules.split(separator: "\n").map { "iptables \($0)" }
    let netns = (try? FileManager.default.contentsOfDirectory(atPath: pods.daemon.state + "/netns")) ?? []
    found += netns.map { "netns \($0)" }
    return found
  }

  @Test func podsReachEachOtherTheirPortsAndHostPorts() async throws {
    try await PodHarness.with { pods in
      var serverConfig = pods.podConfig("server")
      serverConfig.hostname = "server-host"
      serverConfig.dnsConfig = .with {
        $0.servers = ["10.96.0.10"]
        $0.searches = ["default.svc.cluster.local", "svc.cluster.local"]
        $0.options = ["ndots:5"]
      }
      let hostPort = Int32(31000 + Int(getpid() % 2000))
      serverConfig.portMappings = [
        .with {
          $0.containerPort = 8080; $0.hostPort = hostPort; $0.protocol = .tcp
        },
        .with { $0.containerPort = 9090 },  // a container port only: no host rule
      ]
      let server = try await pods.runPod(serverConfig)
      var clientConfig = pods.podConfig("client")
      // Debian's bandwidth plugin (1.1.1) crashes on CHECK for a pod without limits; this pod has them.
      clientConfig.annotations["kubernetes.io/ingress-bandwidth"] = "100M"
      clientConfig.annotations["kubernetes.io/egress-bandwidth"] = "100M"
      let client = try await pods.runPod(clientConfig)

      let serverIP = try await Self.podIP(pods, server)
      let clientIP = try await Self.podIP(pods, client)
      #expect(serverIP.hasPrefix(pods.network.prefix + "."), "\(serverIP)")
      #expect(clientIP.hasPrefix(pods.network.prefix + "."), "\(clientIP)")
      #expect(serverIP != clientIP)

      let web = try await pods.runContainer(
        server, serverConfig, pods.containerConfig("web", command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/tmp"]))
      #expect(try await pods.exec(web, ["/bin/sh", "-c", "echo served-by-pod > /tmp/index.html"]).exitCode == 0)
      // The address in the status is the one on the pod's eth0.
      #expect(Self.text(try await pods.exec(web, ["/bin/ip", "-o", "-4", "addr", "show", "eth0"])).contains(" \(serverIP)/24 "))
      #expect(Self.text(try await pods.exec(web, ["/bin/hostname"])) == "server-host\n")
      let resolv = Self.text(try await pods.exec(web, ["/bin/cat", "/etc/resolv.conf"]))
      #expect(resolv.contains("nameserver 10.96.0.10"), "\(resolv)")
      #expect(resolv.contains("search default.svc.cluster.local svc.cluster.local"), "\(resolv)")
      #expect(resolv.contains("options ndots:5"), "\(resolv)")

      // Pod to pod, by pod IP.
      var sleeperConfig = pods.containerConfig("sleeper", command: ["/bin/sleep", "1000"])
      sleeperConfig.linux.securityContext.capabilities.addCapabilities = ["NET_ADMIN"]
      let sleeper = try await pods.runContainer(client, clientConfig, sleeperConfig)
      let ping = try await pods.exec(sleeper, ["/bin/ping", "-c", "1", "-W", "5", serverIP])
      #expect(ping.exitCode == 0, "\(Self.text(ping)) \(String(decoding: ping.stderr, as: UTF8.self))")
      let fetched = try await pods.exec(sleeper, ["/bin/wget", "-q", "-O", "-", "http://\(serverIP):8080/index.html"])
      #expect(Self.text(fetched) == "served-by-pod\n", "\(String(decoding: fetched.stderr, as: UTF8.self))")

      // Host to the container port on the pod IP, and to the host port through portmap (DNAT on the
      // bridge's own address, which is local to the host).
      var body = try TestEnvironment.shell("curl -s --max-time 5 http://\(serverIP):8080/index.html")
      #expect(body == "served-by-pod\n")
      body = try TestEnvironment.shell("curl -s --max-time 5 http://\(pods.network.gateway):\(hostPort)/index.html")
      #expect(body == "served-by-pod\n")
      let rules = try TestEnvironment.shell("iptables-save -t nat | grep -F -- '--dport \(hostPort)' || true")
      #expect(!rules.isEmpty)
      #expect(pods.network.leases.count == 2)
      // CNI CHECK through the admin call: fine now; after the pod's address is taken away, the bridge
      // plugin says so. Verbose status no longer runs the plugins (kubelet's tools ask for it routinely).
      let check = try await pods.daemon.withAdmin { try await $0.checkPodNetwork(.with { $0.podSandboxID = client }) }
      #expect(check.ok && !check.skipped, "\(check)")
      let verbose = try await pods.runtime {
        try await $0.podSandboxStatus(
          .with {
            $0.podSandboxID = client; $0.verbose = true
          })
      }
      #expect(verbose.info["info"]?.contains("networkCheck") == false, "\(verbose.info)")
      // Interface counters of the pod's interfaces: eth0 carried the ping and the fetch.
      let info = try #require(try JSONSerialization.jsonObject(with: Data((verbose.info["info"] ?? "").utf8)) as? [String: Any])
      #expect((info["runtimeSpec"] as? [String: Any])?["ociVersion"] != nil, "\(info.keys)")
      let interfaces = try #require(info["interfaces"] as? [[String: Any]], "\(info.keys)")
      let eth0 = try #require(interfaces.first { $0["name"] as? String == "eth0" }, "\(interfaces)")
      #expect((eth0["rxBytes"] as? Int ?? 0) > 0 && (eth0["txBytes"] as? Int ?? 0) > 0, "\(eth0)")
      #expect(!interfaces.contains { $0["name"] as? String == "lo" }, "loopback is not listed: \(interfaces)")
      _ = try await pods.exec(sleeper, ["/bin/ip", "addr", "flush", "dev", "eth0"])
      let broken = try await pods.daemon.withAdmin { try await $0.checkPodNetwork(.with { $0.podSandboxID = client }) }
      #expect(!broken.ok && !broken.skipped && !broken.message.isEmpty, "\(broken)")
      let empty = await #expect(throws: RPCError.self) {
        try await pods.daemon.withAdmin { try await $0.checkPodNetwork(.with { $0.podSandboxID = "" }) }
      }
      #expect(empty?.code == .invalidArgument && empty?.message.contains("pod_sandbox_id") == true)
      let missing = await #expect(throws: RPCError.self) {
        try await pods.daemon.withAdmin { try await $0.checkPodNetwork(.with { $0.podSandboxID = String(repeating: "e", count: 64) }) }
      }
      #expect(missing?.code == .notFound)

      for pod in [server, client] {
        try await pods.runtime { runtime in
          _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = pod })
          // Stop released the address; a second stop is a no-op.
          _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = pod })
          _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = pod })
        }
      }
      let left = try Self.leftovers(pods)
      #expect(left.isEmpty, "\(left)")
      #expect(try TestEnvironment.shell("iptables-save -t nat | grep -F -- '--dport \(hostPort)' || true").isEmpty)
    }
  }

  @Test func bandwidthAnnotationsShapeThePodsTraffic() async throws {
    try await PodHarness.with { pods in
      var bad = pods.podConfig("bad-bandwidth")
      bad.annotations["kubernetes.io/ingress-bandwidth"] = "fast"
      do {
        _ = try await pods.runPod(bad)
        Issue.record("a bandwidth that is not a quantity was accepted")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("kubernetes.io/ingress-bandwidth"), "\(error.message)")
      }
      let left = try Self.leftovers(pods)
      #expect(left.isEmpty, "\(left)")

      var config = pods.podConfig("shaped")
      config.annotations["kubernetes.io/ingress-bandwidth"] = "10M"
      config.annotations["kubernetes.io/egress-bandwidth"] = "5M"
      let pod = try await pods.runPod(config)
      let links = try TestEnvironment.shell("ip -o link show master \(pods.network.bridge)")
      let veth = links.split(separator: ":").dropFirst().first.map { String($0.split(separator: "@")[0]).trimmingCharacters(in: .whitespaces) } ?? ""
      #expect(!veth.isEmpty, "\(links)")
      // Ingress to the pod is shaped on the host end of its veth with a token bucket at the annotated rate.
      let qdiscs = try TestEnvironment.shell("tc qdisc show dev \(veth)")
      #expect(qdiscs.contains("tbf"), "\(qdiscs)")
      #expect(qdiscs.contains("rate 10Mbit"), "\(qdiscs)")
      _ = try await pods.runtime { try await $0.stopPodSandbox(.with { $0.podSandboxID = pod }) }
      _ = try await pods.runtime { try await $0.removePodSandbox(.with { $0.podSandboxID = pod }) }
      #expect(try Self.leftovers(pods).isEmpty)
    }
  }

  @Test func netnsDirPinsNamespacesUnderCNINames() async throws {
    let directory = try TestEnvironment.temporaryDirectory("crisp-netns")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try await PodHarness.with(cniConfig: "netns_dir = \"\(directory)\"") { pods in
      let pod = try await pods.runPod(pods.podConfig("named"))
      let names = try FileManager.default.contentsOfDirectory(atPath: directory)
      #expect(names.count == 1 && names[0].hasPrefix("cni-"), "\(names)")
      let verbose = try await pods.runtime {
        try await $0.podSandboxStatus(
          .with {
            $0.podSandboxID = pod; $0.verbose = true
          })
      }
      let info = try #require(try JSONSerialization.jsonObject(with: Data((verbose.info["info"] ?? "").utf8)) as? [String: Any])
      #expect(info["netns"] as? String == "\(directory)/\(names.first ?? "")", "\(info)")
      _ = try await pods.runtime { try await $0.stopPodSandbox(.with { $0.podSandboxID = pod }) }
      _ = try await pods.runtime { try await $0.removePodSandbox(.with { $0.podSandboxID = pod }) }
      #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
      #expect(pods.network.leases.isEmpty)
    }
  }

  @Test func hostNetworkPodsGetNoNamespaceAndNoAddress() async throws {
    try await PodHarness.with { pods in
      var config = pods.podConfig("hostnet")
      config.linux.securityContext.namespaceOptions.network = .node
      let pod = try await pods.runPod(config)
      #expect(try await Self.podIP(pods, pod) == "")
      #expect(pods.network.leases.isEmpty)
      #expect(((try? FileManager.default.contentsOfDirectory(atPath: pods.daemon.state + "/netns")) ?? []).isEmpty)
    }
  }

  @Test func networkReadyFollowsTheConfigDirectoryWithoutRestart() async throws {
    try await PodHarness.with(writeNetwork: false) { pods in
      let status = try await pods.runtime { try await $0.status(.init()).status }
      let network = status.conditions.first { $0.type == "NetworkReady" }
      #expect(network?.status == false)
      #expect(network?.reason == "NetworkPluginNotReady")
      #expect(network?.message.contains(pods.daemon.cniConfDir) == true)
      do {
        _ = try await pods.runPod(pods.podConfig("early"))
        Issue.record("a pod ran without a network")
      } catch let error as RPCError {
        #expect(error.code == .failedPrecondition)
        #expect(error.message.contains("not ready"), "\(error.message)")
      }
      #expect(((try? FileManager.default.contentsOfDirectory(atPath: pods.daemon.state + "/netns")) ?? []).isEmpty)

      try pods.network.writeConfig(to: pods.daemon.cniConfDir)
      var ready = false
      for _ in 0..<100 where !ready {
        let conditions = try await pods.runtime { try await $0.status(.init()).status.conditions }
        ready = conditions.first { $0.type == "NetworkReady" }?.status == true
        if !ready { try await Task.sleep(for: .milliseconds(50)) }
      }
      #expect(ready)
      let pod = try await pods.runPod(pods.podConfig("late"))
      #expect(try await Self.podIP(pods, pod).hasPrefix(pods.network.prefix + "."))
    }
  }

  @Test func updateRuntimeConfigRendersTheTemplate() async throws {
    let directory = try TestEnvironment.temporaryDirectory("crisp-tmpl")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let network = TestNetwork(directory: directory)
    let template = """
      {"cniVersion": "1.0.0", "name": "templated", "plugins": [
        {"type": "bridge", "bridge": "\(network.bridge)", "isGateway": true,
         "ipam": {"type": "host-local", "ranges": {{.PodCIDRRanges}}, "routes": {{.Routes}}, "dataDir": "\(directory)/ipam"}}
      ]}
      """
    try template.write(toFile: directory + "/template.json", atomically: true, encoding: .utf8)
    defer { network.remove() }
    try await PodHarness.with(cniConfig: "conf_template = \"\(directory)/template.json\"", writeNetwork: false) { pods in
      do {
        _ = try await pods.runtime { try await $0.updateRuntimeConfig(.with { $0.runtimeConfig.networkConfig.podCidr = "10.1.2.3" }) }
        Issue.record("a CIDR without a prefix length was accepted")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("pod_cidr"))
      }
      _ = try await pods.runtime { try await $0.updateRuntimeConfig(.with { $0.runtimeConfig.networkConfig.podCidr = network.subnet }) }
      let rendered = try String(contentsOfFile: pods.daemon.cniConfDir + "/10-crisp-net.conflist", encoding: .utf8)
      #expect(rendered.contains("\"subnet\":\"\(network.subnet)\""), "\(rendered)")
      let conditions = try await pods.runtime { try await $0.status(.init()).status.conditions }
      #expect(conditions.first { $0.type == "NetworkReady" }?.status == true)
      let pod = try await pods.runPod(pods.podConfig("templated"))
      #expect(try await Self.podIP(pods, pod).hasPrefix(network.prefix + "."))
    }
  }

  /// A plugin script in a bin directory of the test's own. It fails (or hangs) on ADD only; DEL succeeds,
  /// as a real plugin's would for a pod it never set up.
  static func writePlugin(_ directory: String, name: String, onAdd: String) throws {
    let script = """
      #!/bin/sh
      cat > /dev/null
      if [ "$CNI_COMMAND" = ADD ]; then
      \(onAdd)
      fi
      exit 0

      """
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try script.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    chmod(directory + "/" + name, 0o755)
  }

  @Test func pluginFailuresFailThePodAndLeakNothing() async throws {
    let binDirectory = try TestEnvironment.temporaryDirectory("crisp-cnibin")
    defer { try? FileManager.default.removeItem(atPath: binDirectory) }
    try Self.writePlugin(
      binDirectory, name: "crisp-fails",
      onAdd: """
        echo '{"cniVersion": "1.0.0", "code": 11, "msg": "crisp test plugin refused", "details": "on purpose"}'
        exit 1
        """)
    try Self.writePlugin(binDirectory, name: "crisp-hangs", onAdd: "sleep 60")
    let cni = "bin_dirs = [\"\(binDirectory)\", \"/opt/cni/bin\"]\nplugin_timeout = \"1500ms\""
    try await PodHarness.with(cniConfig: cni, writeNetwork: false) { pods in
      let confDir = pods.daemon.cniConfDir
      func expectRefused(_ code: RPCError.Code, _ fragments: [String], _ what: String) async throws {
        do {
          _ = try await pods.runPod(pods.podConfig("refused"))
          Issue.record("\(what): the pod ran")
        } catch let error as RPCError {
          #expect(error.code == code, "\(what): \(error)")
          for fragment in fragments { #expect(error.message.contains(fragment), "\(what): \(error.message) lacks \(fragment)") }
        }
        let left = try Self.leftovers(pods)
        #expect(left.isEmpty, "\(what) left \(left)")
        #expect(try await pods.runtime { try await $0.listPodSandbox(.init()).items }.isEmpty, "\(what)")
      }

      // Not JSON: the network is not ready, and the message says which file and why.
      try "{ not json".write(toFile: confDir + "/05-broken.conflist", atomically: true, encoding: .utf8)
      try await Task.sleep(for: .milliseconds(200))
      try await expectRefused(.failedPrecondition, ["05-broken.conflist", "not a JSON object"], "bad conflist")
      try FileManager.default.removeItem(atPath: confDir + "/05-broken.conflist")

      // Each of these runs the real bridge (ipMasq, so it installs iptables rules) first.
      let cases: [(String, RPCError.Code, [String])] = [
        ("crisp-no-such-plugin", .failedPrecondition, ["\"crisp-no-such-plugin\" not found", binDirectory, "/opt/cni/bin"]),
        ("crisp-fails", .internalError, ["crisp test plugin refused: on purpose", "CNI error code 11", "plugin \"crisp-fails\" ADD"]),
        ("crisp-hangs", .deadlineExceeded, ["plugin \"crisp-hangs\" ADD did not finish within", "plugin_timeout"]),
      ]
      for (plugin, code, fragments) in cases {
        try pods.network.writeConfig(to: confDir, ipMasq: true, extraPlugins: [["type": plugin]])
        try await Task.sleep(for: .milliseconds(200))
        try await expectRefused(code, fragments, plugin)
      }
      // The hung plugin was killed, not left behind.
      let hung = try TestEnvironment.shell("ps -eo args | grep -F '\(binDirectory)/crisp-hangs' | grep -v grep || true")
      #expect(hung.isEmpty, "\(hung)")
    }
  }

  /// A teardown that fails during RunPodSandbox's rollback is not forgotten: the sandbox stays listed as
  /// NOTREADY holding its attachment, and RemovePodSandbox retries DEL once the plugin recovers.
  @Test func aFailedRollbackKeepsTheSandboxForRetry() async throws {
    let binDirectory = try TestEnvironment.temporaryDirectory("crisp-cnibin")
    defer { try? FileManager.default.removeItem(atPath: binDirectory) }
    let broken = binDirectory + "/del-broken"
    let script = """
      #!/bin/sh
      cat > /dev/null
      case "$CNI_COMMAND" in
      ADD) echo '{"cniVersion": "1.0.0", "code": 11, "msg": "refused on ADD"}'; exit 1 ;;
      DEL) if [ -e \(broken) ]; then echo '{"cniVersion": "1.0.0", "code": 11, "msg": "refused on DEL"}'; exit 1; fi ;;
      esac
      exit 0

      """
    try FileManager.default.createDirectory(atPath: binDirectory, withIntermediateDirectories: true)
    try script.write(toFile: binDirectory + "/crisp-del-fails", atomically: true, encoding: .utf8)
    chmod(binDirectory + "/crisp-del-fails", 0o755)
    FileManager.default.createFile(atPath: broken, contents: nil)
    let cni = "bin_dirs = [\"\(binDirectory)\", \"/opt/cni/bin\"]"
    try await PodHarness.with(cniConfig: cni, writeNetwork: false) { pods in
      // portmap first, so the failing plugin comes after the real bridge and portmap have done their ADD.
      try pods.network.writeConfig(to: pods.daemon.cniConfDir, ipMasq: true, extraPlugins: [["type": "crisp-del-fails"]])
      try await Task.sleep(for: .milliseconds(200))
      do {
        _ = try await pods.runPod(pods.podConfig("half"))
        Issue.record("the pod ran")
      } catch let error as RPCError {
        #expect(error.message.contains("refused on ADD"), "\(error.message)")
      }
      let listed = try await pods.runtime { try await $0.listPodSandbox(.init()).items }
      #expect(listed.count == 1)
      #expect(listed.first?.state == .sandboxNotready)
      let id = try #require(listed.first?.id)
      #expect(FileManager.default.fileExists(atPath: pods.daemon.root + "/networks/\(id).json"))
      do {
        _ = try await pods.runtime { try await $0.removePodSandbox(.with { $0.podSandboxID = id }) }
        Issue.record("removed while DEL still fails")
      } catch let error as RPCError {
        #expect(error.message.contains("refused on DEL"), "\(error.message)")
      }
      try FileManager.default.removeItem(atPath: broken)
      _ = try await pods.runtime { try await $0.removePodSandbox(.with { $0.podSandboxID = id }) }
      #expect(try await pods.runtime { try await $0.listPodSandbox(.init()).items }.isEmpty)
      #expect(!FileManager.default.fileExists(atPath: pods.daemon.root + "/networks/\(id).json"))
      let left = try Self.leftovers(pods)
      #expect(left.isEmpty, "\(left)")
    }
  }

  /// An attachment file whose sandbox the store does not know is released at start-up, not kept forever.
  @Test func recoveryReleasesAttachmentsOfForgottenSandboxes() async throws {
    try await PodHarness.with { pods in
      let pod = try await pods.runPod(pods.podConfig("forgotten"))
      #expect(pods.network.leases.count == 1)
      pods.daemon.signal(SIGKILL)
      _ = try pods.daemon.waitForExit()
      let networks = pods.daemon.root + "/networks"
      let orphan = String(repeating: "f", count: 64)
      try FileManager.default.moveItem(atPath: networks + "/\(pod).json", toPath: networks + "/\(orphan).json")
      try pods.daemon.start()
      _ = try await pods.runtime { try await $0.version(.init()) }
      #expect(pods.network.leases.isEmpty)
      #expect(!FileManager.default.fileExists(atPath: networks + "/\(orphan).json"))
      _ = try await pods.runtime { try await $0.stopPodSandbox(.with { $0.podSandboxID = pod }) }
      _ = try await pods.runtime { try await $0.removePodSandbox(.with { $0.podSandboxID = pod }) }
      let left = try Self.leftovers(pods)
      #expect(left.isEmpty, "\(left)")
    }
  }

  @Test func fiftyPodsReleaseEveryAddress() async throws {
    try await PodHarness.with { pods in
      var ids: [String] = []
      for batch in 0..<5 {
        try await withThrowingTaskGroup(of: String.self) { group in
          for index in 0..<10 {
            group.addTask { try await pods.runPod(pods.podConfig("many-\(batch)-\(index)")) }
          }
          for try await id in group { ids.append(id) }
        }
      }
      #expect(pods.network.leases.count == 50)
      let addresses = try await withThrowingTaskGroup(of: String.self) { group in
        for id in ids { group.addTask { try await Self.podIP(pods, id) } }
        return try await group.reduce(into: Set<String>()) { $0.insert($1) }
      }
      #expect(addresses.count == 50)
      await pods.cleanUp()
      let left = try Self.leftovers(pods)
      #expect(left.isEmpty, "\(left)")
    }
  }

  @Test func aDaemonKilledAfterAddStillReleasesTheAddressOnStop() async throws {
    try await PodHarness.with { pods in
      let pod = try await pods.runPod(pods.podConfig("survivor"))
      let ip = try await Self.podIP(pods, pod)
      #expect(pods.network.leases == [ip])
      pods.daemon.signal(SIGKILL)
      _ = try pods.daemon.waitForExit()
      try pods.daemon.start()
      #expect(try await Self.podIP(pods, pod) == ip)
      _ = try await pods.runtime { try await $0.stopPodSandbox(.with { $0.podSandboxID = pod }) }
      #expect(pods.network.leases.isEmpty)
      _ = try await pods.runtime { try await $0.removePodSandbox(.with { $0.podSandboxID = pod }) }
      #expect(try Self.leftovers(pods).isEmpty)
    }
  }
}
