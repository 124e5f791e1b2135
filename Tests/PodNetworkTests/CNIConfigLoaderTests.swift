import Foundation
import CrispCore
@testable import PodNetwork
import Testing

@Suite struct CNIConfigLoaderTests {
  private func withDirectory(_ files: [String: String], _ body: (String) throws -> Void) throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-cni-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    for (name, content) in files {
      try content.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    }
    try body(directory)
  }

  static let bridge = """
    {"cniVersion": "1.0.0", "name": "crisp", "plugins": [
      {"type": "bridge", "bridge": "cni0", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]]}},
      {"type": "portmap", "capabilities": {"portMappings": true}}
    ]}
    """

  @Test func missingDirectoryIsNotReadyAndNamesIt() {
    let load = CNIConfigLoader.load(directory: "/nonexistent/crisp/net.d", maxConfNum: 1)
    #expect(!load.isReady)
    #expect(load.notReadyMessage.contains("/nonexistent/crisp/net.d"))
  }

  @Test func usesTheFirstValidFilesInLexicalOrder() throws {
    try withDirectory([
      "20-second.conflist": Self.bridge.replacingOccurrences(of: "\"crisp\"", with: "\"second\""),
      "10-first.conflist": Self.bridge,
      "05-broken.conflist": "{not json",
      "30-single.conf": #"{"cniVersion": "0.4.0", "name": "single", "type": "ptp"}"#,
      "README.md": "ignored",
    ]) { directory in
      let one = CNIConfigLoader.load(directory: directory, maxConfNum: 1)
      #expect(one.isReady)
      #expect(one.networks.map(\.name) == ["crisp"])
      #expect(one.networks.first?.pluginTypes == ["bridge", "portmap"])
      #expect(one.skipped.count == 1)
      #expect(one.skipped.first?.file.hasSuffix("05-broken.conflist") == true)
      #expect(one.skipped.first?.reason == "not a JSON object")

      let all = CNIConfigLoader.load(directory: directory, maxConfNum: 5)
      #expect(all.networks.map(\.name) == ["crisp", "second", "single"])
    }
  }

  @Test func invalidFilesAreSkippedWithTheirReason() throws {
    try withDirectory([
      "a.conflist": #"{"cniVersion": "1.0.0", "name": "x", "plugins": []}"#,
      "b.conflist": #"{"cniVersion": "9.9.9", "name": "x", "plugins": [{"type": "bridge"}]}"#,
      "c.conflist": #"{"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}]}"#,
      "d.conf": #"{"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "bridge"}]}"#,
      "e.conflist": #"{"cniVersion": "1.0.0", "name": "x", "plugins": [{"ipam": {}}]}"#,
    ]) { directory in
      let load = CNIConfigLoader.load(directory: directory, maxConfNum: 1)
      #expect(!load.isReady)
      let reasons = Dictionary(uniqueKeysWithValues: load.skipped.map { (URL(fileURLWithPath: $0.file).lastPathComponent, $0.reason) })
      #expect(reasons["a.conflist"] == "\"plugins\" must be a non-empty list")
      #expect(reasons["b.conflist"] == "unsupported cniVersion \"9.9.9\"")
      #expect(reasons["c.conflist"] == "missing \"name\"")
      #expect(reasons["d.conf"] == "a plugin list belongs in a .conflist file")
      #expect(reasons["e.conflist"] == "plugins[0] has no \"type\"")
      #expect(load.notReadyMessage.contains("a.conflist"))
    }
  }
}

@Suite struct CNIModelTests {
  static var repository: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
  }

  @Test func theShippedConfigurationsLoad() throws {
    let network = try CNIConfigLoader.parse(file: Self.repository + "/cni-conf/10-crisp-bridge.conflist")
    #expect(network.pluginTypes == ["bridge", "portmap", "bandwidth", "loopback"])
    let template = try String(contentsOfFile: Self.repository + "/cni-conf/crisp-net.template", encoding: .utf8)
    let rendered = try CNIConfTemplate.render(template, podCIDRs: ["10.244.1.0/24", "fd00:1::/64"])
    let parsed = try CNIConfigLoader.parse(Array(rendered.utf8), isList: true, file: "rendered")
    let ipam = parsed.plugins[0]["ipam"]
    #expect(
      ipam?["ranges"] == .array([.array([.object(["subnet": .string("10.244.1.0/24")])]), .array([.object(["subnet": .string("fd00:1::/64")])])]))
    #expect(ipam?["routes"] == .array([.object(["dst": .string("0.0.0.0/0")]), .object(["dst": .string("::/0")])]))
    #expect(throws: CrispError.self) { try CNIConfTemplate.render("{{range .PodCIDRRanges}}", podCIDRs: ["10.0.0.0/24"]) }
    #expect(throws: CrispError.self) { try CNIConfTemplate.parseCIDRs("10.0.0.0/33") }
    #expect(try CNIConfTemplate.parseCIDRs("10.0.0.0/24, fd00::/64") == ["10.0.0.0/24", "fd00::/64"])
  }

  @Test func resultsOfEveryVersionReadAlike() throws {
    let old = try #require(
      JSONValue.parse(
        Array(
          """
          {"cniVersion": "0.2.0", "ip4": {"ip": "10.1.0.5/16", "gateway": "10.1.0.1"}, "ip6": {"ip": "fd00::5/64"}, "dns": {"nameservers": ["10.96.0.10"]}}
          """.utf8)))
    let parsedOld = try CNIResult.parse(old)
    #expect(parsedOld.addresses(onInterface: "eth0").map(\.ip) == ["10.1.0.5", "fd00::5"])
    #expect(parsedOld.dnsServers == ["10.96.0.10"])
    let new = try #require(
      JSONValue.parse(
        Array(
          """
          {"cniVersion": "1.0.0", "interfaces": [{"name": "cni0", "mac": "aa"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/run/netns/x"}],
           "ips": [{"address": "fd00::7/64", "interface": 2}, {"address": "10.2.0.7/24", "gateway": "10.2.0.1", "interface": 2}, {"address": "10.9.9.9/32", "interface": 0}]}
          """.utf8)))
    let parsedNew = try CNIResult.parse(new)
    #expect(parsedNew.addresses(onInterface: "eth0").map(\.ip) == ["fd00::7", "10.2.0.7"])
    #expect(PodNetworks.orderedIPs(["fd00::7", "10.2.0.7"], preference: .ipv4) == ["10.2.0.7", "fd00::7"])
    #expect(PodNetworks.orderedIPs(["10.2.0.7", "fd00::7"], preference: .ipv6) == ["fd00::7", "10.2.0.7"])
    #expect(PodNetworks.orderedIPs(["fd00::7", "10.2.0.7"], preference: .cni) == ["fd00::7", "10.2.0.7"])
    // Integers stay integers when a result is passed on as prevResult.
    #expect(String(decoding: (new["ips"]?.array?.first?["interface"] ?? .null).bytes, as: UTF8.self) == "2")
  }

  /// A port mapping outside 1-65535 is refused before any plugin runs, naming the entry.
  @Test func portMappingsMustBePorts() throws {
    for (host, container) in [(70000, 80), (8080, 0), (8080, -1), (8080, 65536), (Int(Int32.max), 80)] {
      let request = PodNetworkRequest(
        sandboxID: "abc", podName: "web", podNamespace: "prod", podUID: "u-1", netns: "",
        portMappings: [
          .init(hostPort: 80, containerPort: 80, proto: "tcp", hostIP: ""), .init(hostPort: host, containerPort: container, proto: "tcp", hostIP: ""),
        ],
        dnsServers: [], annotations: [:], cgroupParent: "")
      do {
        _ = try PodNetworks.runtimeConfig(for: request, podCIDRs: [])
        Issue.record("\(host):\(container) accepted")
      } catch {
        #expect(error.code == .invalidArgument && error.message.contains("port_mappings[1]"), "\(error)")
      }
    }
  }

  @Test func pluginsGetOnlyTheRuntimeConfigTheyDeclare() throws {
    let request = PodNetworkRequest(
      sandboxID: "abc", podName: "web", podNamespace: "prod", podUID: "u-1", netns: "/run/netns/x",
      portMappings: [
        .init(hostPort: 8080, containerPort: 80, proto: "tcp", hostIP: ""), .init(hostPort: 0, containerPort: 9090, proto: "udp", hostIP: ""),
      ],
      dnsServers: ["10.96.0.10"], annotations: ["kubernetes.io/ingress-bandwidth": "1M"], cgroupParent: "/kubepods/pod1")
    let runtime = try PodNetworks.runtimeConfig(for: request, podCIDRs: ["10.244.0.0/24"])
    #expect(runtime["portMappings"]?.array?.count == 1)
    #expect(runtime["bandwidth"]?["ingressRate"] == .number(1_000_000))
    #expect(runtime["bandwidth"]?["egressRate"] == nil)
    #expect(runtime["ipRanges"] == .array([.array([.object(["subnet": .string("10.244.0.0/24")])])]))
    #expect(runtime["cgroupPath"] == .string("/kubepods/pod1"))
    let network = PodNetworkAttachment.Network(name: "n", cniVersion: "1.0.0", ifName: "eth0", plugins: [], attempted: 0, result: nil)
    let portmap = try #require(JSONValue.parse(Array(#"{"type": "portmap", "capabilities": {"portMappings": true, "bandwidth": false}}"#.utf8)))
    let input = PodNetworks.pluginInput(portmap, network: network, previous: .object(["cniVersion": .string("1.0.0")]), runtimeConfig: runtime)
    #expect(input["runtimeConfig"]?.object?.keys.sorted() == ["portMappings"])
    #expect(input["name"] == .string("n"))
    #expect(input["prevResult"]?["cniVersion"] == .string("1.0.0"))
    let bridge = try #require(JSONValue.parse(Array(#"{"type": "bridge"}"#.utf8)))
    #expect(PodNetworks.pluginInput(bridge, network: network, previous: nil, runtimeConfig: runtime)["runtimeConfig"] == nil)

    var bad = request
    bad.annotations["kubernetes.io/egress-bandwidth"] = "1.2.3M"
    #expect(throws: CrispError.self) { try PodNetworks.runtimeConfig(for: bad, podCIDRs: []) }
  }

  @Test func quantities() {
    #expect(ResourceQuantity.parse("10M") == 10_000_000)
    #expect(ResourceQuantity.parse("1Gi") == 1_073_741_824)
    #expect(ResourceQuantity.parse("1.5k") == 1500)
    #expect(ResourceQuantity.parse("100") == 100)
    #expect(ResourceQuantity.parse("") == nil)
    #expect(ResourceQuantity.parse("M") == nil)
    #expect(ResourceQuantity.parse("-5M") == nil)
    #expect(ResourceQuantity.parse("10 M") == nil)
  }

  @Test func jsonNumbersAndBooleansStayApart() throws {
    let value = try #require(JSONValue.parse(Array(#"{"a": 1, "b": true, "c": 1.5}"#.utf8)))
    #expect(value["a"] == .number(1))
    #expect(value["b"] == .bool(true))
    #expect(value["c"] == .number(1.5))
  }
}

/// DEL is handed a namespace path only when it is a pinned namespace; a plain file left where one was (a
/// reboot with the state directory on disk) must not be passed to the plugins.
@Suite struct NetworkNamespaceTests {
  @Test func onlyANamespaceMountCountsAsPinned() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-netns-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/pinned"
    try await NetworkNamespace.create(at: path)
    #expect(NetworkNamespace.isPinned(path))
    try NetworkNamespace.remove(at: path)
    #expect(!NetworkNamespace.isPinned(path))
    FileManager.default.createFile(atPath: path, contents: nil)
    #expect(!NetworkNamespace.isPinned(path))
    try NetworkNamespace.remove(at: path)
    #expect(!FileManager.default.fileExists(atPath: path))
  }
}
