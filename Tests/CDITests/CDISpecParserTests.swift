import CDI
import Testing

@Suite struct CDISpecParserTests {
  private func parse(_ text: String, _ format: CDISpecParser.Format = .yaml) throws(CDISpecError) -> CDISpec {
    try CDISpecParser.parse(Array(text.utf8), format: format)
  }

  /// The parse's error message, or nil when it parsed.
  private func refusal(_ text: String, _ format: CDISpecParser.Format = .yaml) -> String? {
    do {
      _ = try parse(text, format)
      return nil
    } catch {
      return error.message
    }
  }

  static let fullYAML = """
    cdiVersion: "0.7.0"
    kind: vendor.com/device
    annotations:
      origin: test
    containerEdits:
      env: ["VENDOR=1"]
      additionalGids: [44]
    devices:
      - name: dev0
        annotations: {slot: "0"}
        containerEdits:
          env:
            - DEV=0
          deviceNodes:
            - path: /dev/vendor0
              hostPath: /dev/null
              type: c
              major: 1
              minor: 3
              fileMode: 438
              permissions: rw
              uid: 1000
              gid: 1000
          mounts:
            - hostPath: /tmp
              containerPath: /opt/vendor
              options: [ro, nosuid]
              type: bind
          hooks:
            - hookName: createContainer
              path: /usr/bin/vendor-hook
              args: [vendor-hook, --x]
              env: [A=b]
              timeout: 5
    """

  @Test func everyFieldOfAYAMLSpecIsRead() throws {
    let spec = try parse(Self.fullYAML)
    #expect(spec.version == "0.7.0")
    #expect(spec.kind == "vendor.com/device")
    #expect(spec.annotations == ["origin": "test"])
    #expect(spec.containerEdits.env == ["VENDOR=1"])
    #expect(spec.containerEdits.additionalGIDs == [44])
    let device = try #require(spec.devices.first)
    #expect(device.name == "dev0")
    #expect(device.annotations == ["slot": "0"])
    let node = try #require(device.containerEdits.deviceNodes.first)
    #expect(node.path == "/dev/vendor0")
    #expect(node.hostPath == "/dev/null")
    #expect(node.type == "c")
    #expect(node.major == 1 && node.minor == 3)
    #expect(node.fileMode == 438)
    #expect(node.permissions == "rw")
    #expect(node.uid == 1000 && node.gid == 1000)
    #expect(device.containerEdits.mounts == [.init(hostPath: "/tmp", containerPath: "/opt/vendor", options: ["ro", "nosuid"], type: "bind")])
    #expect(
      device.containerEdits.hooks == [
        .init(hookName: "createContainer", path: "/usr/bin/vendor-hook", args: ["vendor-hook", "--x"], env: ["A=b"], timeout: 5)
      ]
    )
  }

  @Test func jsonSpecsReadTheSame() throws {
    let json = """
      {"cdiVersion":"0.3.0","kind":"vendor.com/device","devices":[{"name":"dev0","containerEdits":{"env":["DEV=0"],
      "deviceNodes":[{"path":"/dev/null"}],"mounts":[{"hostPath":"/tmp","containerPath":"/opt/vendor","options":["ro"]}]}}],
      "containerEdits":{"env":["VENDOR=1"]}}
      """
    let spec = try parse(json, .json)
    #expect(spec.devices.map(\.name) == ["dev0"])
    #expect(spec.devices.first?.containerEdits.deviceNodes.first?.path == "/dev/null")
    #expect(spec.devices.first?.containerEdits.deviceNodes.first?.type == nil)
    #expect(spec.containerEdits.env == ["VENDOR=1"])
  }

  /// Each version reads a spec using only what that version has; fields newer than the declared version
  /// are refused, naming the field and the version it needs.
  @Test(arguments: CDIVersion.supported)
  func eachSupportedVersionReads(_ version: CDIVersion) throws {
    let spec = try parse("cdiVersion: \(version)\nkind: vendor.com/device\ndevices:\n  - name: dev0\n    containerEdits:\n      env: [A=1]\n")
    #expect(spec.version == version.description)
  }

  @Test func fieldsNewerThanTheDeclaredVersionAreRefused() {
    func spec(_ version: String, kind: String = "vendor.com/device", name: String = "dev0", edits: String) -> String {
      "cdiVersion: \"\(version)\"\nkind: \(kind)\ndevices:\n  - name: \(name)\n    containerEdits:\n\(edits)"
    }
    let mountType = "      env: [A=1]\n      mounts: [{hostPath: /tmp, containerPath: /x, type: bind}]\n"
    #expect(refusal(spec("0.3.0", edits: mountType))?.contains("mounts[0].type needs cdiVersion 0.4.0") == true)
    #expect(refusal(spec("0.4.0", edits: mountType)) == nil)
    let hostPath = "      deviceNodes: [{path: /dev/x, hostPath: /dev/null}]\n"
    #expect(refusal(spec("0.4.0", edits: hostPath))?.contains("hostPath needs cdiVersion 0.5.0") == true)
    #expect(refusal(spec("0.5.0", edits: hostPath)) == nil)
    #expect(refusal(spec("0.4.0", name: "0dev", edits: "      env: [A=1]\n"))?.contains("needs cdiVersion 0.5.0") == true)
    #expect(refusal(spec("0.5.0", kind: "vendor.com/a.b", edits: "      env: [A=1]\n"))?.contains("needs cdiVersion 0.6.0") == true)
    #expect(refusal(spec("0.6.0", kind: "vendor.com/a.b", edits: "      env: [A=1]\n")) == nil)
    let gids = "      additionalGids: [5]\n"
    #expect(refusal(spec("0.6.0", edits: gids))?.contains("additionalGids needs cdiVersion 0.7.0") == true)
    #expect(refusal(spec("0.7.0", edits: gids)) == nil)
    let net = "      netDevices: [{hostInterfaceName: eth1, name: net1}]\n"
    #expect(refusal(spec("1.0.0", edits: net))?.contains("netDevices needs cdiVersion 1.1.0") == true)
    #expect(refusal(spec("1.1.0", edits: net)) == nil)
    let annotations = "cdiVersion: \"0.5.0\"\nkind: vendor.com/device\nannotations: {a: b}\ndevices:\n  - name: d\n    containerEdits: {env: [A=1]}\n"
    #expect(refusal(annotations)?.contains("annotations needs cdiVersion 0.6.0") == true)
  }

  @Test func invalidSpecsAreRefusedNamingTheField() {
    let device = "devices:\n  - name: dev0\n    containerEdits: {env: [A=1]}\n"
    #expect(refusal("cdiVersion: \"0.6.0\"\nkind: vendor\n" + device)?.contains("kind") == true)
    #expect(refusal("cdiVersion: \"0.6.0\"\nkind: 9vendor.com/x\n" + device)?.contains("must start with a letter") == true)
    #expect(refusal("cdiVersion: \"0.9.9\"\nkind: vendor.com/x\n" + device)?.contains("cdiVersion \"0.9.9\"") == true)
    #expect(refusal("cdiVersion: \"0.2.0\"\nkind: vendor.com/x\n" + device)?.contains("cdiVersion \"0.2.0\"") == true)
    #expect(refusal("kind: vendor.com/x\n" + device)?.contains("cdiVersion: missing") == true)
    let header = "cdiVersion: \"0.6.0\"\nkind: vendor.com/x\n"
    #expect(refusal(header + "devices: []\n")?.contains("at least one device") == true)
    #expect(refusal(header + "devices:\n  - name: bad/name\n    containerEdits: {env: [A=1]}\n")?.contains("devices[0].name") == true)
    let twice = header + "devices:\n  - name: a\n    containerEdits: {env: [A=1]}\n  - name: a\n    containerEdits: {env: [B=1]}\n"
    #expect(refusal(twice)?.contains("devices[1].name \"a\": defined twice") == true)
    #expect(refusal(header + "devices:\n  - name: a\n")?.contains("devices[0].containerEdits: a device must edit") == true)
    #expect(refusal(header + "devices:\n  - name: a\n    containerEdits: {env: [NOEQUALS]}\n")?.contains("env[0]") == true)
    #expect(refusal(header + "devices:\n  - name: a\n    containerEdits: {deviceNodes: [{path: dev/x}]}\n")?.contains("absolute") == true)
    #expect(refusal(header + "devices:\n  - name: a\n    containerEdits: {deviceNodes: [{path: /dev/x, type: z}]}\n")?.contains("type \"z\"") == true)
    #expect(
      refusal(header + "devices:\n  - name: a\n    containerEdits: {deviceNodes: [{path: /dev/x, permissions: rwx}]}\n")?.contains("permissions")
        == true)
    #expect(refusal(header + "devices:\n  - name: a\n    containerEdits: {hooks: [{hookName: prestop, path: /x}]}\n")?.contains("hookName") == true)
    #expect(
      refusal(header + "devices:\n  - name: a\n    containerEdits: {hooks: [{hookName: poststop, path: /x, timeout: 0}]}\n")?.contains("timeout")
        == true)
    #expect(
      refusal(header + "devices:\n  - name: a\n    containerEdits: {mounts: [{hostPath: /x, containerPath: rel}]}\n")?.contains("containerPath")
        == true)
    #expect(
      refusal(header + "devices:\n  - name: a\n    containerEdits: {devicenodes: [{path: /dev/x}]}\n")?.contains("unknown key \"devicenodes\"")
        == true)
    #expect(refusal(header + "devices:\n  - name: a\n    containerEdits: {deviceNodes: [{path: /dev/x, major: -1}]}\n")?.contains("major") == true)
    #expect(refusal(header + "devices:\n  - name: a\n    containerEdits: {deviceNodes: [{path: /dev/x, uid: -1}]}\n") != nil)
    #expect(refusal("{\"cdiVersion\": \"0.6.0\", \"kind\": 5}", .json)?.contains("kind") == true)
    #expect(refusal("not: [valid", .yaml) != nil)
    #expect(refusal("{", .json) != nil)
  }

  @Test func sizesAndCountsAreBounded() {
    let big = String(repeating: "#", count: CDISpecParser.maxFileSize + 1)
    #expect(refusal(big)?.contains("larger than") == true)
    var many = "cdiVersion: \"0.6.0\"\nkind: vendor.com/x\ndevices:\n"
    for index in 0...CDISpecParser.maxDevices { many += "  - {name: d\(index), containerEdits: {env: [A=1]}}\n" }
    #expect(refusal(many)?.contains("more than \(CDISpecParser.maxDevices)") == true)
    let env = (0...CDISpecParser.maxEntries).map { "E\($0)=1" }.joined(separator: ", ")
    #expect(
      refusal("cdiVersion: \"0.6.0\"\nkind: vendor.com/x\ndevices:\n  - {name: d, containerEdits: {env: [\(env)]}}\n")?.contains("env: more than")
        == true)
    let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
    #expect(refusal(deep)?.contains("nested deeper") == true)
    #expect(refusal(deep, .json)?.contains("nested deeper") == true)
    let compact = String(repeating: "- ", count: 10_000) + "x\n"
    #expect(refusal(compact)?.contains("nested deeper") == true)
  }

  /// Aliases can make a small YAML file decode into a huge tree ("billion laughs"): the node count is capped.
  @Test func aliasExpansionIsBounded() {
    var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for level in 1...8 {
      text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
    }
    #expect(refusal(text)?.contains("YAML nodes") == true)
  }

  @Test func unsupportedEditsAreKeptForTheResolverToRefuse() throws {
    let spec = try parse(
      "cdiVersion: \"0.7.0\"\nkind: vendor.com/x\ndevices:\n  - name: d\n    containerEdits: {intelRdt: {closID: c}}\n")
    #expect(spec.devices.first?.containerEdits.unsupported == ["intelRdt"])
  }
}
