import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// CDI devices end to end: spec files in a temporary spec directory describing real host devices
/// (/dev/null and /dev/zero under other container paths, with env and a mount), the real daemon and runc,
/// checked from inside the container with ExecSync.
@Suite(.serialized) struct CDIDeviceTests {
  static func text(_ response: Runtime_V1_ExecSyncResponse) -> String { String(decoding: response.stdout, as: UTF8.self) }

  /// /dev/null as /dev/vendor-null and /dev/zero as /dev/vendor-zero (major and minor from the host), env
  /// at spec and device level, a bind mount of `share`, and a node whose spec names its owner.
  static func vendorSpec(share: String) -> String {
    """
    cdiVersion: "0.6.0"
    kind: vendor.example.com/test
    containerEdits:
      env: [VENDOR_COMMON=spec]
    devices:
      - name: nul
        containerEdits:
          env: [VENDOR_DEVICE=nul]
          deviceNodes:
            - {path: /dev/vendor-null, hostPath: /dev/null, permissions: rw}
          mounts:
            - {hostPath: \(share), containerPath: /opt/vendor, options: [ro, nosuid, nodev]}
      - name: zero
        containerEdits:
          deviceNodes:
            - {path: /dev/vendor-zero, hostPath: /dev/zero, uid: 7}
    """
  }

  @Test func containersGetExactlyTheirCDIDevices() async throws {
    let directory = try TestEnvironment.temporaryDirectory("crisp-cdi")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let (etc, run, share) = (directory + "/etc", directory + "/run", directory + "/share")
    for path in [etc, run, share] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    try "from the host\n".write(toFile: share + "/marker", atomically: true, encoding: .utf8)
    try Self.vendorSpec(share: share).write(toFile: etc + "/vendor.yaml", atomically: true, encoding: .utf8)
    // Overrides nothing of etc's and is refused (a device name with '/'): Status lists it with why.
    try #"{"cdiVersion":"0.6.0","kind":"vendor.example.com/broken","devices":[{"name":"a/b","containerEdits":{"env":["A=1"]}}]}"#
      .write(toFile: run + "/broken.json", atomically: true, encoding: .utf8)
    let config = """
      [cdi]
      spec_dirs = ["\(etc)", "\(run)"]
      [runtime]
      default_handler = "runc"
      [runtime.handlers.runc]
      binary = "/usr/bin/runc"
      device_ownership_from_security_context = true
      """
    try await PodHarness.with(extraConfig: config) { pods in
      let podConfig = pods.podConfig("cdi")
      let pod = try await pods.runPod(podConfig)

      var wanted = pods.containerConfig("cdi-devices", command: ["/bin/sleep", "1000"])
      wanted.cdiDevices = [.with { $0.name = "vendor.example.com/test=nul" }]
      wanted.annotations = ["cdi.k8s.io/extra": "vendor.example.com/test=zero"]
      let id = try await pods.runContainer(pod, podConfig, wanted)
      // The nodes, with the host's major and minor; owned by the container's user (root here: ownership
      // from the security context) except where the spec names an owner.
      let null = Self.text(try await pods.exec(id, ["/bin/ls", "-ln", "/dev/vendor-null"]))
      #expect(null.hasPrefix("c"), "\(null)")
      #expect(null.replacingOccurrences(of: " ", with: "").contains("1,3"), "\(null)")
      let zero = Self.text(try await pods.exec(id, ["/bin/ls", "-ln", "/dev/vendor-zero"]))
      #expect(zero.replacingOccurrences(of: " ", with: "").contains("1,5"), "\(zero)")
      #expect(zero.contains(" 7 ") && zero.contains(" 0 "), "\(zero)")
      // Usable: the device cgroup allows them.
      #expect(try await pods.exec(id, ["/bin/sh", "-c", "echo x > /dev/vendor-null"]).exitCode == 0)
      #expect(
        Self.text(try await pods.exec(id, ["/bin/sh", "-c", "head -c 4 /dev/vendor-zero | wc -c"])).trimmingCharacters(in: .whitespacesAndNewlines)
          == "4")
      let environment = Self.text(try await pods.exec(id, ["/bin/env"]))
      #expect(environment.contains("VENDOR_COMMON=spec\n"), "\(environment)")
      #expect(environment.contains("VENDOR_DEVICE=nul\n"), "\(environment)")
      #expect(Self.text(try await pods.exec(id, ["/bin/cat", "/opt/vendor/marker"])) == "from the host\n")
      let mounts = Self.text(try await pods.exec(id, ["/bin/cat", "/proc/mounts"])).split(separator: "\n").filter { $0.contains(" /opt/vendor ") }
      #expect(mounts.count == 1, "\(mounts)")
      let mount = mounts.first.map(String.init) ?? ""
      #expect(mount.contains(" ro,"), "\(mount)")

      // A non-root container: its nodes belong to its user and group (the spec's own uid stays), as the
      // runtime is told in the container's config.json.
      var nonRoot = pods.containerConfig("cdi-non-root", command: ["/bin/sleep", "1000"])
      nonRoot.cdiDevices = [.with { $0.name = "vendor.example.com/test=nul" }, .with { $0.name = "vendor.example.com/test=zero" }]
      nonRoot.linux.securityContext.runAsUser = .with { $0.value = 1000 }
      nonRoot.linux.securityContext.runAsGroup = .with { $0.value = 2000 }
      let nonRootID = try await pods.runContainer(pod, podConfig, nonRoot)
      let bundle = try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: pods.daemon.state + "/containers/\(nonRootID)/config.json")))
      let linux = (bundle as? [String: Any])?["linux"] as? [String: Any]
      let owners = ((linux?["devices"] as? [[String: Any]]) ?? []).map { "\($0["path"] ?? "") \($0["uid"] ?? "") \($0["gid"] ?? "")" }
      #expect(owners == ["/dev/vendor-null 1000 2000", "/dev/vendor-zero 7 2000"], "\(owners)")
      let owned = Self.text(try await pods.exec(nonRootID, ["/bin/ls", "-ln", "/dev/vendor-null", "/dev/vendor-zero"]))
      #expect(owned.contains(" 1000 ") && owned.contains(" 7 ") && owned.contains(" 2000 "), "\(owned)")
      #expect(try await pods.exec(nonRootID, ["/bin/sh", "-c", "echo x > /dev/vendor-null"]).exitCode == 0)

      // A container without CDI devices has none of it.
      let plain = try await pods.runContainer(pod, podConfig, pods.containerConfig("plain", command: ["/bin/sleep", "1000"]))
      // (ExecSync answers an exit status without output as an error, so the shell says what it found.)
      let absent = Self.text(try await pods.exec(plain, ["/bin/sh", "-c", "test -e /dev/vendor-null && echo present || echo absent"]))
      #expect(absent == "absent\n")
      #expect(!Self.text(try await pods.exec(plain, ["/bin/env"])).contains("VENDOR_"))

      // A spec file added while the daemon runs is used at once.
      try Self.vendorSpec(share: share).replacingOccurrences(of: "vendor.example.com/test", with: "vendor.example.com/late")
        .write(toFile: run + "/late.yaml", atomically: true, encoding: .utf8)
      var late = pods.containerConfig("late", command: ["/bin/sleep", "1000"])
      late.cdiDevices = [.with { $0.name = "vendor.example.com/late=zero" }]
      let lateID = try await pods.runContainer(pod, podConfig, late)
      #expect(try await pods.exec(lateID, ["/bin/test", "-c", "/dev/vendor-zero"]).exitCode == 0)

      // Status verbose: the devices known and the file refused, with why.
      let info = try await pods.runtime { try await $0.status(.with { $0.verbose = true }).info }
      let cdi = try #require(info["cdi"])
      #expect(cdi.contains("vendor.example.com/test=nul") && cdi.contains("vendor.example.com/late=zero"), "\(cdi)")
      #expect(cdi.contains("broken.json") && cdi.contains("devices[0].name"), "\(cdi)")
    }
  }

  /// A device that cannot be given fails CreateContainer, naming it, and leaves nothing behind: no
  /// container record, no state directory, no mount.
  @Test func unresolvableDevicesFailCreateContainerLeavingNothing() async throws {
    let directory = try TestEnvironment.temporaryDirectory("crisp-cdi")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try Self.vendorSpec(share: directory).write(toFile: directory + "/vendor.yaml", atomically: true, encoding: .utf8)
    try """
    cdiVersion: "0.6.0"
    kind: vendor.example.com/gone
    devices:
      - name: a
        containerEdits:
          deviceNodes: [{path: /dev/crisp-test-missing-device}]
    """.write(toFile: directory + "/gone.yaml", atomically: true, encoding: .utf8)
    try await PodHarness.with(extraConfig: "[cdi]\nspec_dirs = [\"\(directory)\"]\n") { pods in
      let podConfig = pods.podConfig("cdi-bad")
      let pod = try await pods.runPod(podConfig)
      let cases: [(devices: [String], annotations: [String: String], code: RPCError.Code, fragment: String)] = [
        (["vendor.example.com/test=nul", "vendor.example.com/test=nope"], [:], .invalidArgument, "vendor.example.com/test=nope"),
        (["vendor.example.com/test"], [:], .invalidArgument, "CDI_devices[0]"),
        ([], ["cdi.k8s.io/x": "vendor.example.com/test=nul,unknown.com/x=y"], .invalidArgument, "no CDI spec defines kind unknown.com/x"),
        ([], ["cdi.k8s.io/x": "not-a-name"], .invalidArgument, "cdi.k8s.io/x"),
        (["vendor.example.com/gone=a"], [:], .failedPrecondition, "gone.yaml"),
      ]
      for entry in cases {
        let before = HostSnapshot.take(under: pods.daemon.directory)
        let containersBefore = try await pods.runtime { try await $0.listContainers(.init()).containers.count }
        let stateBefore = (try? FileManager.default.contentsOfDirectory(atPath: pods.daemon.state + "/containers"))?.sorted()
        var bad = pods.containerConfig("bad-cdi", command: ["/bin/sleep", "1000"])
        bad.cdiDevices = entry.devices.map { name in .with { $0.name = name } }
        bad.annotations = entry.annotations
        do {
          _ = try await pods.runContainer(pod, podConfig, bad)
          Issue.record("accepted \(entry)")
        } catch let error as RPCError {
          #expect(error.code == entry.code, "\(error.message)")
          #expect(error.message.contains(entry.fragment), "\(error.message)")
        }
        #expect(try await pods.runtime { try await $0.listContainers(.init()).containers.count } == containersBefore)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: pods.daemon.state + "/containers"))?.sorted() == stateBefore)
        #expect(HostSnapshot.take(under: pods.daemon.directory) == before)
      }
      // The name is free again: the same container, asking for a device that exists, is created.
      var good = pods.containerConfig("bad-cdi", command: ["/bin/sleep", "1000"])
      good.cdiDevices = [.with { $0.name = "vendor.example.com/test=zero" }]
      let id = try await pods.runContainer(pod, podConfig, good)
      #expect(try await pods.exec(id, ["/bin/test", "-c", "/dev/vendor-zero"]).exitCode == 0)
    }
  }
}
