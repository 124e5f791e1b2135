import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// What an image's config or a pod's spec says reaches the OCI spec only in the shapes crisp understands:
/// a malformed USER is refused naming the image and the field (it used to trap the daemon), annotations
/// pass only through the handler's allow-lists (runc acts on some), and `add_capabilities: ["ALL"]` means
/// what this node can actually give.
@Suite(.serialized) struct HostileSpecInputTests {
  static func text(_ response: Runtime_V1_ExecSyncResponse) -> String { String(decoding: response.stdout, as: UTF8.self) }

  /// Pushes a busybox image whose config has `User` = `user` and returns its reference.
  static func pushImage(_ pods: PodHarness, tag: String, user: String) throws -> String {
    try pods.registry.push([
      "repository": "hostile/user", "tag": tag,
      "images": [
        [
          "config": ["Cmd": ["/bin/sleep", "1000"], "Env": ["PATH=/bin"], "User": user],
          "layers": [
            [
              "compression": "gzip",
              "entries": [
                ["path": "bin", "type": "dir"], ["path": "bin/busybox", "type": "file", "source": "/bin/busybox", "mode": 0o755],
                ["path": "bin/sleep", "type": "symlink", "target": "busybox"], ["path": "bin/id", "type": "symlink", "target": "busybox"],
                ["path": "etc", "type": "dir"],
                [
                  "path": "etc/passwd", "type": "file", "content": "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www:/var/www:/bin/sh\nbroken:x\n",
                ],
                ["path": "etc/group", "type": "file", "content": "root:x:0:\nextra:x:1234:\n"],
              ],
            ]
          ],
        ]
      ],
    ])
    return "\(pods.registry.host)/hostile/user:\(tag)"
  }

  @Test func malformedImageUserIsRefusedNamingImageAndField() async throws {
    try await PodHarness.with { pods in
      let cases: [(tag: String, user: String, fragment: String)] = [
        ("colon", ":", "user part is empty"),
        ("nouser", ":extra", "user part is empty"),
        ("nogroup", "www-data:", "group part after ':' is empty"),
        ("toobig", "4294967296", "out of range"),
        ("ghost", "ghost", "no user \"ghost\""),
        ("broken", "broken", "no user \"broken\""),
        ("badgroup", "www-data:ghosts", "no group \"ghosts\""),
        ("three", "1:2:3", "more than one ':'"),
      ]
      var images: [(image: String, fragment: String)] = []
      for entry in cases {
        let image = try Self.pushImage(pods, tag: entry.tag, user: entry.user)
        _ = try await pods.daemon.withClients { _, images in try await images.pullImage(.with { $0.image.image = image }) }
        images.append((image, entry.fragment))
      }
      let good = try Self.pushImage(pods, tag: "good", user: "www-data:extra")
      _ = try await pods.daemon.withClients { _, images in try await images.pullImage(.with { $0.image.image = good }) }

      let podConfig = pods.podConfig("user")
      let pod = try await pods.runPod(podConfig)
      let before = HostSnapshot.take(under: pods.daemon.directory)
      let bundlesBefore = (try? FileManager.default.contentsOfDirectory(atPath: pods.daemon.state + "/containers")) ?? []
      for (index, entry) in images.enumerated() {
        var config = pods.containerConfig("bad\(index)", command: [])
        config.image.image = entry.image
        do {
          _ = try await pods.runContainer(pod, podConfig, config)
          Issue.record("\(entry.image) was accepted")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument, "\(error)")
          #expect(error.message.contains("image \"\(entry.image)\" config.User"), "\(error.message)")
          #expect(error.message.contains(entry.fragment), "\(error.message)")
        }
        // Still serving, and nothing of the refused container is left.
        _ = try await pods.runtime { try await $0.version(.init()) }
        #expect(try await pods.runtime { try await $0.listContainers(.init()).containers }.isEmpty)
        #expect(HostSnapshot.take(under: pods.daemon.directory) == before)
        let bundles = (try? FileManager.default.contentsOfDirectory(atPath: pods.daemon.state + "/containers")) ?? []
        #expect(bundles.sorted() == bundlesBefore.sorted(), "\(bundles)")
      }
      // The well-formed user:group of names runs as the image's ids.
      var config = pods.containerConfig("good", command: [])
      config.image.image = good
      let id = try await pods.runContainer(pod, podConfig, config)
      let output = Self.text(try await pods.exec(id, ["/bin/id"]))
      #expect(output.hasPrefix("uid=33(www-data) gid=1234(extra)"), "\(output)")
    }
  }

  @Test func onlyAllowListedAnnotationsReachTheSpec() async throws {
    let handler = """
      [runtime.handlers.runc]
      binary = "/usr/bin/runc"
      pod_annotations = ["io.example.*"]
      container_annotations = ["io.example.container"]
      """
    try await PodHarness.with(extraConfig: handler) { pods in
      var podConfig = pods.podConfig("annotated")
      podConfig.annotations["org.systemd.property.CPUQuota"] = "1%"
      podConfig.annotations["run.oci.keep_original_groups"] = "1"
      podConfig.annotations["io.example.pod"] = "kept"
      podConfig.annotations["io.kubernetes.cri.container-type"] = "forged"
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("annotated", command: ["/bin/sleep", "1000"])
      config.annotations = ["run.oci.hooks": "x", "io.example.container": "c", "io.example.other": "dropped"]
      let id = try await pods.runContainer(pod, podConfig, config)

      func annotations(_ id: String) throws -> [String: String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: pods.daemon.state + "/containers/\(id)/config.json"))
        let spec = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return spec["annotations"] as? [String: String] ?? [:]
      }
      let sandbox = try annotations(pod)
      #expect(sandbox["io.example.pod"] == "kept")
      #expect(sandbox["org.systemd.property.CPUQuota"] == nil && sandbox["run.oci.keep_original_groups"] == nil, "\(sandbox)")
      #expect(sandbox["io.kubernetes.cri.container-type"] == "sandbox")
      #expect(sandbox["test.crisp/annotation"] == nil)
      let container = try annotations(id)
      #expect(container["io.example.pod"] == "kept" && container["io.example.container"] == "c", "\(container)")
      #expect(container["io.example.other"] == nil && container["run.oci.hooks"] == nil, "\(container)")
      #expect(container["org.systemd.property.CPUQuota"] == nil && container["run.oci.keep_original_groups"] == nil, "\(container)")
      #expect(container["io.kubernetes.cri.container-type"] == "container")
      // CRI still reports the annotations as kubelet sent them.
      let status = try await pods.runtime { try await $0.containerStatus(.with { $0.containerID = id }).status }
      #expect(status.annotations["io.example.other"] == "dropped")
    }
  }

  @Test func addAllCapabilitiesGivesTheNodesBoundingSet() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("allcaps")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("allcaps", command: ["/bin/sleep", "1000"])
      config.linux.securityContext.capabilities.addCapabilities = ["ALL"]
      let id = try await pods.runContainer(pod, podConfig, config)
      let status = Self.text(try await pods.exec(id, ["/bin/sh", "-c", "grep '^CapEff:' /proc/self/status"]))
      let effective = UInt64(status.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "", radix: 16)
      let daemonPID = try #require(pods.daemon.process?.processIdentifier)
      let daemonStatus = try String(contentsOfFile: "/proc/\(daemonPID)/status", encoding: .utf8)
      let boundingLine = daemonStatus.split(separator: "\n").first { $0.hasPrefix("CapBnd:") }
      let bounding = UInt64(boundingLine.map { $0.dropFirst("CapBnd:".count).trimmingCharacters(in: .whitespaces) } ?? "", radix: 16)
      #expect(effective != nil && effective == bounding, "CapEff \(status) vs crisp's \(boundingLine ?? "")")
      // A capability the node lacks, asked for by name, is refused with the reason (when there is one).
      let all = (0..<41).map { UInt64(1) << $0 }.reduce(0, |)
      if let bounding, bounding & all != all {
        let missing: Int? = (0..<41).first(where: { bounding & (UInt64(1) << UInt64($0)) == 0 })
        let names: [Int: String] = [24: "SYS_RESOURCE", 25: "SYS_TIME", 16: "SYS_MODULE", 17: "SYS_RAWIO"]
        if let missing, let name = names[missing] {
          var named = pods.containerConfig("named", command: ["/bin/sleep", "1000"])
          named.linux.securityContext.capabilities.addCapabilities = [name]
          do {
            _ = try await pods.runContainer(pod, podConfig, named)
            Issue.record("CAP_\(name) outside the bounding set was accepted")
          } catch let error as RPCError {
            #expect(error.code == .failedPrecondition, "\(error)")
            #expect(error.message.contains("CAP_\(name)") && error.message.contains("add_capabilities"), "\(error.message)")
          }
        }
      }
      // Privileged containers get the same set.
      var privilegedPod = pods.podConfig("privileged")
      privilegedPod.linux.securityContext.privileged = true
      let ppod = try await pods.runPod(privilegedPod)
      var privileged = pods.containerConfig("privileged", command: ["/bin/sleep", "1000"])
      privileged.linux.securityContext.privileged = true
      let pid = try await pods.runContainer(ppod, privilegedPod, privileged)
      let pstatus = Self.text(try await pods.exec(pid, ["/bin/sh", "-c", "grep '^CapEff:' /proc/self/status"]))
      #expect(UInt64(pstatus.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "", radix: 16) == bounding)
    }
  }
}
