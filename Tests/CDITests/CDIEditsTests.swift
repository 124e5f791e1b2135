import CDI
import CrispCore
import OCI
import Testing

/// Resolution against real host nodes (/dev/null is 1:3, /dev/zero 1:5 on Linux) and the edits applied
/// to an OCI spec.
@Suite struct CDIEditsTests {
  static let vendorSpec = """
    cdiVersion: "0.7.0"
    kind: vendor.com/device
    containerEdits:
      env: [VENDOR_COMMON=1, SHARED=spec]
      additionalGids: [0, 44]
    devices:
      - name: devnull
        containerEdits:
          env: [SHARED=device]
          deviceNodes:
            - {path: /dev/vendor-null, hostPath: /dev/null, permissions: rw}
          mounts:
            - {hostPath: /tmp, containerPath: /opt/vendor, options: [ro]}
      - name: zero
        containerEdits:
          deviceNodes:
            - {path: /dev/vendor-zero, hostPath: /dev/zero, uid: 7}
          hooks:
            - {hookName: createContainer, path: /usr/bin/true, args: ["true"]}
            - {hookName: poststop, path: /usr/bin/true}
          additionalGids: [44, 45]
      - name: fixed
        containerEdits:
          deviceNodes:
            - {path: /dev/fixed, type: c, major: 250, minor: 7}
    """

  private func resolve(_ names: [String]) throws -> CDIEdits {
    let root = try SpecDirectory()
    try root.write("vendor.yaml", Self.vendorSpec)
    let contents = CDIRegistryContents.load(directories: [root.path])
    #expect(contents.rejected.isEmpty, "\(contents.rejected)")
    let parsed = try CDIResolver.requestedNames(cdiDevices: names, annotations: [:])
    return try CDIResolver.resolve(parsed, in: contents, directories: [root.path])
  }

  @Test func hostNodesFillWhatTheSpecLeavesOut() throws {
    let edits = try resolve(["vendor.com/device=devnull", "vendor.com/device=zero", "vendor.com/device=fixed"])
    #expect(edits.deviceNodes.count == 3)
    let null = edits.deviceNodes[0]
    #expect(null.device.path == "/dev/vendor-null")
    #expect(null.device.type == "c")
    #expect(null.device.major == 1 && null.device.minor == 3)
    #expect(null.device.fileMode == 0o666)
    #expect(null.access == "rw")
    let zero = edits.deviceNodes[1]
    #expect(zero.device.major == 1 && zero.device.minor == 5)
    #expect(zero.device.uid == 7 && zero.specOwnsUID && !zero.specOwnsGID)
    #expect(zero.access == "rwm")
    // Type and numbers given: the host is not asked (no /dev/fixed here).
    #expect(edits.deviceNodes[2].device == OCISpec.Device(type: "c", path: "/dev/fixed", major: 250, minor: 7))
    // The spec's common edits come once, before its first device's.
    #expect(edits.env == ["VENDOR_COMMON=1", "SHARED=spec", "SHARED=device"])
    #expect(edits.mounts == [.init(destination: "/opt/vendor", type: "bind", source: "/tmp", options: ["ro", "bind"])])
    #expect(edits.hooks.map(\.stage) == ["createContainer", "poststop"])
    #expect(edits.devices.map(\.description) == ["vendor.com/device=devnull", "vendor.com/device=zero", "vendor.com/device=fixed"])
  }

  @Test func missingHostPartsFailBeforeAnythingIsMade() throws {
    let root = try SpecDirectory()
    try root.write(
      "vendor.yaml",
      """
      cdiVersion: "0.6.0"
      kind: vendor.com/device
      devices:
        - name: gone
          containerEdits:
            deviceNodes: [{path: /dev/crisp-test-no-such-device}]
        - name: notdevice
          containerEdits:
            deviceNodes: [{path: /dev/x, hostPath: /etc/hostname, type: c}]
        - name: wrongtype
          containerEdits:
            deviceNodes: [{path: /dev/x, hostPath: /dev/null, type: b}]
        - name: nomount
          containerEdits:
            mounts: [{hostPath: /crisp-test-no-such-dir, containerPath: /x}]
      """)
    let contents = CDIRegistryContents.load(directories: [root.path])
    for (device, expected) in [
      ("gone", "crisp-test-no-such-device"), ("notdevice", "not a device node"), ("wrongtype", "type \"b\""), ("nomount", "crisp-test-no-such-dir"),
    ] {
      do {
        _ = try CDIResolver.resolve(
          try CDIResolver.requestedNames(cdiDevices: ["vendor.com/device=\(device)"], annotations: [:]), in: contents, directories: [root.path])
        Issue.record("\(device) resolved")
      } catch {
        #expect(error.code == .failedPrecondition, "\(device)")
        #expect(error.message.contains(expected), "\(error.message)")
        #expect(error.message.contains("vendor.com/device=\(device)"))
        #expect(error.message.contains("vendor.yaml"))
      }
    }
  }

  @Test func unsupportedEditsRefuseTheDevice() throws {
    let root = try SpecDirectory()
    try root.write(
      "rdt.yaml", "cdiVersion: \"0.7.0\"\nkind: vendor.com/rdt\ndevices:\n  - name: d\n    containerEdits: {intelRdt: {closID: c}}\n")
    let contents = CDIRegistryContents.load(directories: [root.path])
    do {
      _ = try CDIResolver.resolve(try CDIResolver.requestedNames(cdiDevices: ["vendor.com/rdt=d"], annotations: [:]), in: contents, directories: [])
      Issue.record("a device needing intelRdt resolved")
    } catch {
      #expect(error.code == .failedPrecondition)
      #expect(error.message.contains("intelRdt"))
    }
  }

  private func baseSpec() -> OCISpec {
    var spec = OCISpec()
    var process = OCISpec.Process()
    process.env = ["PATH=/bin", "SHARED=image"]
    process.user.uid = 1000
    process.user.gid = 1000
    spec.process = process
    spec.mounts = [
      .init(destination: "/proc", type: "proc", source: "proc", options: nil),
      .init(destination: "/opt/vendor/data", type: "bind", source: "/srv", options: ["rbind"]),
      .init(destination: "/opt/vendor", type: "bind", source: "/old", options: ["rbind"]),
    ]
    var linux = OCISpec.Linux()
    linux.devices = [.init(type: "c", path: "/dev/vendor-null", major: 9, minor: 9)]
    linux.resources = OCISpec.Resources()
    linux.resources?.devices = [.init(allow: false, access: "rwm")]
    spec.linux = linux
    return spec
  }

  @Test func editsApplyToTheSpec() throws {
    let edits = try resolve(["vendor.com/device=devnull", "vendor.com/device=zero"])
    var spec = baseSpec()
    edits.apply(to: &spec)
    #expect(spec.process?.env == ["PATH=/bin", "SHARED=device", "VENDOR_COMMON=1"])
    #expect(spec.process?.user.additionalGids == [44, 45])
    let devices = try #require(spec.linux?.devices)
    #expect(devices.map(\.path) == ["/dev/vendor-null", "/dev/vendor-zero"])
    #expect(devices[0].major == 1 && devices[0].minor == 3)
    let rules = try #require(spec.linux?.resources?.devices)
    #expect(rules.count == 3)
    #expect(rules[1] == .init(allow: true, type: "c", major: 1, minor: 3, access: "rw"))
    #expect(rules[2] == .init(allow: true, type: "c", major: 1, minor: 5, access: "rwm"))
    // The CDI mount replaced the one at its path and sorts before the deeper one.
    #expect(spec.mounts.map(\.destination) == ["/proc", "/opt/vendor", "/opt/vendor/data"])
    #expect(spec.mounts[1].source == "/tmp")
    #expect(spec.hooks?.createContainer == [.init(path: "/usr/bin/true", args: ["true"])])
    #expect(spec.hooks?.poststop == [.init(path: "/usr/bin/true")])
    #expect(spec.hooks?.prestart == nil)
  }

  @Test func ownershipFromTheSecurityContextSparesWhatTheSpecSets() throws {
    let edits = try resolve(["vendor.com/device=devnull", "vendor.com/device=zero"])
    var spec = baseSpec()
    edits.apply(to: &spec, owner: (uid: 1000, gid: 2000))
    let devices = try #require(spec.linux?.devices)
    #expect(devices[0].uid == 1000 && devices[0].gid == 2000)
    // The spec said uid 7 for this one: it stays; its gid was the host's and becomes the container's.
    #expect(devices[1].uid == 7 && devices[1].gid == 2000)
    var hostOwned = baseSpec()
    edits.apply(to: &hostOwned)
    #expect(hostOwned.linux?.devices?.first?.uid == 0)
  }
}
