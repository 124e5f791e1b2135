import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// Host path volumes: plain, read-only, through a symlink, and with each propagation mode; pod sysctls.
@Suite(.serialized) struct VolumeTests {
  /// A tmpfs of the test's own, made shared, so propagation is tested without touching the host's mounts.
  final class SharedDirectory: @unchecked Sendable {
    let path: String
    init() throws {
      path = try TestEnvironment.temporaryDirectory("crisp-vol")
      try TestEnvironment.shell("mount -t tmpfs crisp-vol \(path) && mount --make-shared \(path)")
    }
    deinit {
      _ = try? TestEnvironment.shell("umount -R -l \(path)")
      try? FileManager.default.removeItem(atPath: path)
    }
  }

  @Test func bindMountsReadOnlyAndSymlinks() async throws {
    let shared = try SharedDirectory()
    try FileManager.default.createDirectory(atPath: shared.path + "/data", withIntermediateDirectories: true)
    try "hello volume\n".write(toFile: shared.path + "/data/file", atomically: true, encoding: .utf8)
    try FileManager.default.createSymbolicLink(atPath: shared.path + "/link", withDestinationPath: shared.path + "/data")
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("volumes")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("reader", command: ["/bin/sleep", "1000"])
      config.mounts = [
        .with {
          $0.hostPath = shared.path + "/data"; $0.containerPath = "/rw"
        },
        .with {
          $0.hostPath = shared.path + "/data"; $0.containerPath = "/ro"; $0.readonly = true
        },
        .with {
          $0.hostPath = shared.path + "/link"; $0.containerPath = "/via-symlink"
        },
      ]
      let id = try await pods.runContainer(pod, podConfig, config)
      #expect(try await pods.exec(id, ["/bin/cat", "/via-symlink/file"]).stdout == Data("hello volume\n".utf8))
      #expect(try await pods.exec(id, ["/bin/sh", "-c", "echo written > /rw/new"]).exitCode == 0)
      #expect(try String(contentsOfFile: shared.path + "/data/new", encoding: .utf8) == "written\n")
      let readOnly = try await pods.exec(id, ["/bin/sh", "-c", "echo x > /ro/other"])
      #expect(readOnly.exitCode != 0)
      #expect(String(decoding: readOnly.stderr, as: UTF8.self).contains("Read-only file system"))
      let status = try await pods.status(id)
      #expect(status.mounts.map(\.containerPath) == ["/rw", "/ro", "/via-symlink"])
      #expect(status.mounts.last?.hostPath == shared.path + "/data")
      #expect(status.mounts[1].readonly)
    }
  }

  @Test func propagationHostToContainerAndBidirectional() async throws {
    let shared = try SharedDirectory()
    try FileManager.default.createDirectory(atPath: shared.path + "/down/sub", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: shared.path + "/both/sub", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: shared.path + "/private/sub", withIntermediateDirectories: true)
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("propagation")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("mounter", command: ["/bin/sleep", "1000"])
      config.mounts = [
        .with {
          $0.hostPath = shared.path + "/down"; $0.containerPath = "/down"; $0.propagation = .propagationHostToContainer
        },
        .with {
          $0.hostPath = shared.path + "/both"; $0.containerPath = "/both"; $0.propagation = .propagationBidirectional
        },
        .with {
          $0.hostPath = shared.path + "/private"; $0.containerPath = "/private"; $0.propagation = .propagationPrivate
        },
      ]
      config.linux.securityContext.capabilities.addCapabilities = ["SYS_ADMIN"]
      let id = try await pods.runContainer(pod, podConfig, config)
      defer {
        _ = try? TestEnvironment.shell("umount -l \(shared.path)/down/sub \(shared.path)/both/sub \(shared.path)/private/sub 2>/dev/null; true")
      }
      // Host to container: a mount made on the host after start shows up inside (rslave and rshared).
      try TestEnvironment.shell("mount -t tmpfs from-host \(shared.path)/down/sub && touch \(shared.path)/down/sub/host-file")
      try TestEnvironment.shell("mount -t tmpfs from-host \(shared.path)/private/sub && touch \(shared.path)/private/sub/host-file")
      #expect(try await pods.exec(id, ["/bin/ls", "/down/sub"]).stdout == Data("host-file\n".utf8))
      // Private: nothing propagates.
      #expect(try await pods.exec(id, ["/bin/ls", "/private/sub"]).stdout == Data())
      // Bidirectional: a mount made inside the container shows up on the host.
      let mounted = try await pods.exec(id, ["/bin/sh", "-c", "mount -t tmpfs from-container /both/sub && touch /both/sub/container-file"])
      #expect(mounted.exitCode == 0, "\(String(decoding: mounted.stderr, as: UTF8.self))")
      #expect(FileManager.default.fileExists(atPath: shared.path + "/both/sub/container-file"))
    }
  }

  @Test func recursiveReadOnlyReachesSubmounts() async throws {
    let shared = try SharedDirectory()
    try FileManager.default.createDirectory(atPath: shared.path + "/tree/sub", withIntermediateDirectories: true)
    try TestEnvironment.shell("mount -t tmpfs crisp-sub \(shared.path)/tree/sub")
    defer { _ = try? TestEnvironment.shell("umount -l \(shared.path)/tree/sub") }
    try await PodHarness.with { pods in
      let handlers = try await pods.runtime { try await $0.status(.init()).runtimeHandlers }
      #expect(handlers.first { $0.name == "" }?.features.recursiveReadOnlyMounts == true, "\(handlers)")
      let podConfig = pods.podConfig("rro")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("rro", command: ["/bin/sleep", "1000"])
      config.mounts = [
        .with {
          $0.hostPath = shared.path + "/tree"; $0.containerPath = "/plain"; $0.readonly = true
        },
        .with {
          $0.hostPath = shared.path + "/tree"; $0.containerPath = "/recursive"; $0.readonly = true; $0.recursiveReadOnly = true
        },
      ]
      let id = try await pods.runContainer(pod, podConfig, config)
      // Plain read-only leaves the submount writable; recursive read-only does not.
      #expect(try await pods.exec(id, ["/bin/sh", "-c", "echo x > /plain/sub/file"]).exitCode == 0)
      let denied = try await pods.exec(id, ["/bin/sh", "-c", "echo x > /recursive/sub/other"])
      #expect(denied.exitCode != 0)
      #expect(String(decoding: denied.stderr, as: UTF8.self).contains("Read-only file system"))
      let status = try await pods.status(id)
      #expect(status.mounts.map(\.recursiveReadOnly) == [false, true])
      for (mount, fragment) in [
        (
          Runtime_V1_Mount.with {
            $0.hostPath = shared.path; $0.containerPath = "/x"; $0.recursiveReadOnly = true
          }, "needs readonly"
        ),
        (
          .with {
            $0.hostPath = shared.path; $0.containerPath = "/x"; $0.readonly = true; $0.recursiveReadOnly = true;
            $0.propagation = .propagationHostToContainer
          }, "private propagation"
        ),
      ] {
        var bad = pods.containerConfig("bad-rro", command: ["/bin/true"])
        bad.mounts = [mount]
        do {
          _ = try await pods.runContainer(pod, podConfig, bad)
          Issue.record("accepted \(mount)")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument)
          #expect(error.message.contains("mounts[0].recursive_read_only"), "\(error.message)")
          #expect(error.message.contains(fragment), "\(error.message)")
        }
      }
    }
  }

  @Test func propagationFromAPrivateHostMountIsRefused() async throws {
    let privateDirectory = try TestEnvironment.temporaryDirectory("crisp-private")
    try TestEnvironment.shell("mount -t tmpfs crisp-private \(privateDirectory) && mount --make-private \(privateDirectory)")
    defer {
      _ = try? TestEnvironment.shell("umount -l \(privateDirectory)")
      try? FileManager.default.removeItem(atPath: privateDirectory)
    }
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("private")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("refused", command: ["/bin/true"])
      config.mounts = [
        .with {
          $0.hostPath = privateDirectory; $0.containerPath = "/x"; $0.propagation = .propagationBidirectional
        }
      ]
      do {
        _ = try await pods.runContainer(pod, podConfig, config)
        Issue.record("bidirectional propagation from a private mount was accepted")
      } catch let error as RPCError {
        #expect(error.code == .failedPrecondition)
        #expect(error.message.contains("mounts[0].propagation"))
        #expect(error.message.contains("not shared"))
      }
    }
  }

  @Test func podSysctlsAreSetInThePod() async throws {
    try await PodHarness.with { pods in
      var podConfig = pods.podConfig("sysctls")
      podConfig.linux.sysctls = [
        "kernel.shm_rmid_forced": "1", "kernel.msgmax": "10000", "net.ipv4.ip_local_port_range": "1024 65000",
      ]
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(pod, podConfig, pods.containerConfig("reader", command: ["/bin/sleep", "1000"]))
      let values = try await pods.exec(
        id, ["/bin/sh", "-c", "cat /proc/sys/kernel/shm_rmid_forced /proc/sys/kernel/msgmax /proc/sys/net/ipv4/ip_local_port_range"])
      #expect(String(decoding: values.stdout, as: UTF8.self) == "1\n10000\n1024\t65000\n")
    }
  }
}
