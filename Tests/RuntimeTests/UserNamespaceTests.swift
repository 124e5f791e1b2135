import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// User-namespaced pods (kubelet's `hostUsers: false`): the pod's own user namespace with one mapped range,
/// its network namespace owned by it, root filesystems and volumes seen through idmapped mounts.
@Suite(.serialized) struct UserNamespaceTests {
  static func text(_ response: Runtime_V1_ExecSyncResponse) -> String {
    String(decoding: response.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  static func mapping(_ host: UInt32, length: UInt32 = 65536, container: UInt32 = 0) -> Runtime_V1_IDMapping {
    .with {
      $0.hostID = host
      $0.containerID = container
      $0.length = length
    }
  }

  static func userNamespaced(_ config: inout Runtime_V1_PodSandboxConfig, host: UInt32) {
    config.linux.securityContext.namespaceOptions.usernsOptions = .with {
      $0.mode = .pod
      $0.uids = [mapping(host)]
      $0.gids = [mapping(host)]
    }
  }

  @Test func aPodRunsInItsOwnUserNamespaceWithIdmappedFilesystems() async throws {
    try await PodHarness.with { pods in
      let status = try await pods.runtime { try await $0.status(.with { $0.verbose = true }) }
      let allAdvertise = status.runtimeHandlers.allSatisfy { $0.features.userNamespaces }
      #expect(allAdvertise, "\(status.runtimeHandlers) \(status.info["userNamespaces"] ?? "")")
      let host: UInt32 = 2_000_000
      var podConfig = pods.podConfig("userns")
      Self.userNamespaced(&podConfig, host: host)
      let pod = try await pods.runPod(podConfig)

      // A host directory of the node's root, given to the container twice: idmapped with the pod's own
      // mappings (as kubelet sends them) and plain.
      let volume = pods.daemon.directory + "/userns-volume"
      try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
      try Data("host\n".utf8).write(to: URL(fileURLWithPath: volume + "/from-host"))
      var config = pods.containerConfig("inside", command: ["/bin/sleep", "1000"])
      config.linux.securityContext.namespaceOptions.usernsOptions = podConfig.linux.securityContext.namespaceOptions.usernsOptions
      config.mounts = [
        .with {
          $0.containerPath = "/mapped"
          $0.hostPath = volume
          $0.uidMappings = [Self.mapping(host)]
          $0.gidMappings = [Self.mapping(host)]
        },
        .with {
          $0.containerPath = "/plain"
          $0.hostPath = volume
          $0.readonly = true
        },
      ]
      let id = try await pods.runContainer(pod, podConfig, config)

      // Root inside is host id 2000000 outside.
      #expect(
        Self.text(try await pods.exec(id, ["/bin/cat", "/proc/self/uid_map"])).split(separator: " ", omittingEmptySubsequences: true) == [
          "0", "2000000", "65536",
        ])
      #expect(
        Self.text(try await pods.exec(id, ["/bin/cat", "/proc/self/gid_map"])).split(separator: " ", omittingEmptySubsequences: true) == [
          "0", "2000000", "65536",
        ])
      #expect(Self.text(try await pods.exec(id, ["/bin/id", "-u"])) == "0")
      // The image's files (root's on disk) are root's inside, and root can write its own layer.
      #expect(Self.text(try await pods.exec(id, ["/bin/busybox", "stat", "-c", "%u:%g", "/bin/busybox"])) == "0:0")
      let write = try await pods.exec(id, ["/bin/sh", "-c", "echo x > /etc/written && busybox stat -c %u /etc/written"])
      #expect(write.exitCode == 0, "\(String(decoding: write.stderr, as: UTF8.self))")
      #expect(Self.text(write) == "0")
      // The node's root is nobody inside, except through the idmapped volume.
      #expect(Self.text(try await pods.exec(id, ["/bin/busybox", "stat", "-c", "%u", "/plain/from-host"])) == "65534")
      #expect(Self.text(try await pods.exec(id, ["/bin/busybox", "stat", "-c", "%u", "/mapped/from-host"])) == "0")
      let created = try await pods.exec(id, ["/bin/sh", "-c", "echo pod > /mapped/from-pod"])
      #expect(created.exitCode == 0, "\(String(decoding: created.stderr, as: UTF8.self))")
      let owner = try FileManager.default.attributesOfItem(atPath: volume + "/from-pod")[.ownerAccountID] as? NSNumber
      #expect(owner?.intValue == 0, "a file the pod's root wrote through the idmapped volume is the node's root's on disk")
      // Its root holds no power over the node's ids: it cannot become the node's root's files' owner.
      #expect(try await pods.exec(id, ["/bin/sh", "-c", "echo no > /plain/nope"]).exitCode != 0)
      // The pod network works from inside the user namespace.
      #expect(try await pods.exec(id, ["/bin/ping", "-c", "1", "-W", "2", pods.network.gateway]).exitCode == 0)
      // No staging mount is left on the node once the container runs.
      let staged = HostSnapshot.take(under: pods.daemon.directory).mounts.filter { $0.contains("/idmap") }
      #expect(staged.isEmpty, "staging mounts left: \(staged)")

      // Survives a kill -9 of the daemon; removal then takes the pinned user namespace away.
      pods.daemon.signal(SIGKILL)
      _ = try pods.daemon.waitForExit()
      try pods.daemon.start()
      #expect(try await pods.status(id).state == .containerRunning)
      #expect(Self.text(try await pods.exec(id, ["/bin/id", "-u"])) == "0")
      let pinned = pods.daemon.state + "/userns/" + pod
      #expect(FileManager.default.fileExists(atPath: pinned))
      _ = try await pods.runtime { try await $0.stopPodSandbox(.with { $0.podSandboxID = pod }) }
      _ = try await pods.runtime { try await $0.removePodSandbox(.with { $0.podSandboxID = pod }) }
      #expect(!FileManager.default.fileExists(atPath: pinned))
      #expect(HostSnapshot.take(under: pods.daemon.directory) == .clean)
      try? FileManager.default.removeItem(atPath: volume)
    }
  }

  @Test func invalidUserNamespaceRequestsAreRefusedAndLeakNothing() async throws {
    try await PodHarness.with { pods in
      let host: UInt32 = 3_000_000
      var userPod = pods.podConfig("userns-ok")
      Self.userNamespaced(&userPod, host: host)
      let pod = try await pods.runPod(userPod)
      let plainPod = pods.podConfig("plain")
      let plain = try await pods.runPod(plainPod)
      func expectRefused(
        _ fragment: String, pod edit: ((inout Runtime_V1_PodSandboxConfig) -> Void)? = nil,
        container: ((inout Runtime_V1_ContainerConfig) -> Void)? = nil, inPlainPod: Bool = false
      ) async throws {
        let before = HostSnapshot.take(under: pods.daemon.directory)
        do {
          if let edit {
            var config = pods.podConfig("refused")
            Self.userNamespaced(&config, host: host)
            edit(&config)
            _ = try await pods.runPod(config)
          } else if let container {
            var config = pods.containerConfig("refused", command: ["/bin/true"])
            container(&config)
            _ = try await pods.runContainer(inPlainPod ? plain : pod, inPlainPod ? plainPod : userPod, config)
          }
          Issue.record("accepted: \(fragment)")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument, "\(fragment): \(error)")
          #expect(error.message.contains(fragment), "\(error.message) lacks \(fragment)")
        }
        #expect(HostSnapshot.take(under: pods.daemon.directory) == before, "\(fragment) leaked")
      }
      try await expectRefused(
        "uids: exactly one mapping",
        pod: {
          $0.linux.securityContext.namespaceOptions.usernsOptions.uids.append(Self.mapping(5_000_000, container: 65536))
        })
      try await expectRefused(
        "gids[0].container_id", pod: { $0.linux.securityContext.namespaceOptions.usernsOptions.gids = [Self.mapping(host, container: 1)] })
      try await expectRefused("uids[0].host_id", pod: { $0.linux.securityContext.namespaceOptions.usernsOptions.uids = [Self.mapping(0)] })
      try await expectRefused("mode: container", pod: { $0.linux.securityContext.namespaceOptions.usernsOptions.mode = .container })
      try await expectRefused("mode: target", pod: { $0.linux.securityContext.namespaceOptions.usernsOptions.mode = .target })
      try await expectRefused("namespace_options.network is NODE", pod: { $0.linux.securityContext.namespaceOptions.network = .node })
      try await expectRefused("privileged", pod: { $0.linux.securityContext.privileged = true })
      try await expectRefused(
        "userns_options.mode: container",
        container: {
          $0.linux.securityContext.namespaceOptions.usernsOptions = .with { $0.mode = .container }
        })
      try await expectRefused(
        "differ from its pod's",
        container: {
          $0.linux.securityContext.namespaceOptions.usernsOptions = .with {
            $0.mode = .pod
            $0.uids = [Self.mapping(9_000_000)]
            $0.gids = [Self.mapping(9_000_000)]
          }
        })
      try await expectRefused(
        "mounts[0]: uidMappings/gidMappings need a pod with its own user namespace",
        container: {
          $0.mounts = [
            .with {
              $0.containerPath = "/m"
              $0.hostPath = "/tmp"
              $0.uidMappings = [Self.mapping(host)]
              $0.gidMappings = [Self.mapping(host)]
            }
          ]
        }, inPlainPod: true)
      try await expectRefused(
        "must be the pod's own mappings",
        container: {
          $0.mounts = [
            .with {
              $0.containerPath = "/m"
              $0.hostPath = "/tmp"
              $0.uidMappings = [Self.mapping(host + 1)]
              $0.gidMappings = [Self.mapping(host)]
            }
          ]
        })
      try await expectRefused(
        "user id 70000 is outside the pod's user namespace",
        container: {
          $0.linux.securityContext.runAsUser = .with { $0.value = 70000 }
        })
      try await expectRefused(
        "group id 65536 is outside",
        container: {
          $0.linux.securityContext.runAsUser = .with { $0.value = 1000 }
          $0.linux.securityContext.supplementalGroups = [65536]
        })
      // The pods that were accepted still work.
      let ok = try await pods.runContainer(pod, userPod, pods.containerConfig("ok", command: ["/bin/sleep", "100"]))
      #expect(Self.text(try await pods.exec(ok, ["/bin/id", "-u"])) == "0")
    }
  }
}
