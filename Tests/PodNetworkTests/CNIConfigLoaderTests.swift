import Foundation
import PodNetwork
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
