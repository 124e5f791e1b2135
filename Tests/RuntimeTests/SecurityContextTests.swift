import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// Security contexts end to end: users and groups, capabilities, no_new_privs, read-only rootfs, masked and
/// read-only paths, privileged, namespaced sysctls, refusals of what crisp does not enforce, and OOM kills.
@Suite(.serialized) struct SecurityContextTests {
  static func text(_ response: Runtime_V1_ExecSyncResponse) -> String { String(decoding: response.stdout, as: UTF8.self) }

  /// A field of /proc/self/status inside the container.
  static func status(_ pods: PodHarness, _ id: String, _ field: String) async throws -> String {
    let out = text(try await pods.exec(id, ["/bin/sh", "-c", "grep '^\(field):' /proc/self/status"]))
    return out.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
  }

  @Test func usersGroupsAndSupplementalGroupPolicies() async throws {
    try await PodHarness.with { pods in
      let features = try await pods.runtime { try await $0.status(.init()).features }
      #expect(features.supplementalGroupsPolicy)
      let podConfig = pods.podConfig("users")
      let pod = try await pods.runPod(podConfig)
      func idOutput(_ name: String, _ security: Runtime_V1_LinuxContainerSecurityContext) async throws -> String {
        var config = pods.containerConfig(name, command: ["/bin/sleep", "1000"])
        config.linux.securityContext = security
        let id = try await pods.runContainer(pod, podConfig, config)
        return Self.text(try await pods.exec(id, ["/bin/id"]))
      }
      let numeric = try await idOutput(
        "numeric",
        .with {
          $0.runAsUser = .with { $0.value = 1000 }; $0.runAsGroup = .with { $0.value = 2000 }
        })
      #expect(numeric.hasPrefix("uid=1000 gid=2000"), "\(numeric)")
      // www-data is in group "extra" (1234) in the image's /etc/group: Merge adds it, Strict does not.
      var merge = Runtime_V1_LinuxContainerSecurityContext()
      merge.runAsUsername = "www-data"
      merge.supplementalGroups = [5000]
      merge.supplementalGroupsPolicy = .merge
      let merged = try await idOutput("merge", merge)
      #expect(merged.contains("uid=33(www-data) gid=33"), "\(merged)")
      #expect(merged.contains("1234"), "\(merged)")
      #expect(merged.contains("5000"), "\(merged)")
      var strictContext = merge
      strictContext.supplementalGroupsPolicy = .strict
      let strict = try await idOutput("strict", strictContext)
      #expect(strict.contains("uid=33(www-data) gid=33"), "\(strict)")
      #expect(!strict.contains("1234"), "\(strict)")
      #expect(strict.contains("5000"), "\(strict)")
    }
  }

  @Test func capabilitiesNoNewPrivsReadOnlyRootfsAndMaskedPaths() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("confined")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("confined", command: ["/bin/sleep", "1000"])
      config.linux.securityContext.noNewPrivs = true
      config.linux.securityContext.readonlyRootfs = true
      config.linux.securityContext.capabilities.dropCapabilities = ["ALL"]
      config.linux.securityContext.capabilities.addCapabilities = ["NET_BIND_SERVICE"]
      let id = try await pods.runContainer(pod, podConfig, config)
      // CAP_NET_BIND_SERVICE is bit 10, alone.
      #expect(try await Self.status(pods, id, "CapEff") == "0000000000000400")
      #expect(try await Self.status(pods, id, "CapAmb") == "0000000000000000")
      #expect(try await Self.status(pods, id, "NoNewPrivs") == "1")
      let write = try await pods.exec(id, ["/bin/sh", "-c", "echo x > /written"])
      #expect(write.exitCode != 0)
      #expect(String(decoding: write.stderr, as: UTF8.self).contains("Read-only file system"))
      // Without CAP_SYS_ADMIN the hostname cannot change.
      #expect(try await pods.exec(id, ["/bin/hostname", "other"]).exitCode != 0)
      // Masked: /proc/timer_list reads as an empty device; read-only: /proc/sys cannot be written.
      let kcore = try await pods.exec(id, ["/bin/sh", "-c", "wc -c < /proc/timer_list"])
      #expect(
        Self.text(kcore).trimmingCharacters(in: .whitespacesAndNewlines) == "0",
        "\(Self.text(kcore)) \(String(decoding: kcore.stderr, as: UTF8.self))")
      #expect(try await pods.exec(id, ["/bin/sh", "-c", "echo 1 > /proc/sys/kernel/domainname"]).exitCode != 0)

      // The default set when nothing is asked: CAP_CHOWN present, CAP_SYS_ADMIN absent.
      let plain = try await pods.runContainer(pod, podConfig, pods.containerConfig("plain", command: ["/bin/sleep", "1000"]))
      let capabilities = UInt64(try await Self.status(pods, plain, "CapEff"), radix: 16) ?? 0
      #expect(capabilities & 1 != 0)
      #expect(capabilities & (1 << 21) == 0)
    }
  }

  @Test func privilegedContainersInPrivilegedSandboxesOnly() async throws {
    try await PodHarness.with { pods in
      let plainPodConfig = pods.podConfig("unprivileged-pod")
      let plainPod = try await pods.runPod(plainPodConfig)
      var wanted = pods.containerConfig("wants-privilege", command: ["/bin/sleep", "1000"])
      wanted.linux.securityContext.privileged = true
      do {
        _ = try await pods.runContainer(plainPod, plainPodConfig, wanted)
        Issue.record("a privileged container ran in an unprivileged sandbox")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("privileged"), "\(error.message)")
      }

      var podConfig = pods.podConfig("privileged-pod")
      podConfig.linux.securityContext.privileged = true
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(pod, podConfig, wanted)
      // Every capability, no masked /proc/timer_list, writable sysfs, the host's devices.
      let capabilities = UInt64(try await Self.status(pods, id, "CapEff"), radix: 16) ?? 0
      #expect(capabilities & (1 << 21) != 0)
      #expect(
        Self.text(try await pods.exec(id, ["/bin/sh", "-c", "wc -c < /proc/timer_list"])).trimmingCharacters(in: .whitespacesAndNewlines) != "0")
      let sysfs = Self.text(try await pods.exec(id, ["/bin/sh", "-c", "grep ' /sys ' /proc/mounts"]))
      #expect(sysfs.contains(" rw,"), "\(sysfs)")
      #expect(try await pods.exec(id, ["/bin/test", "-e", "/dev/kmsg"]).exitCode == 0)
      #expect(try await pods.exec(id, ["/bin/hostname", "changed-inside"]).exitCode == 0)
    }
  }

  @Test func hostDevicesAreMappedWithTheirPermissions() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("devices")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("devices", command: ["/bin/sleep", "1000"])
      config.devices = [
        // Not one of the devices runc always allows, so the device cgroup rule is what decides.
        .with {
          $0.hostPath = "/dev/loop-control"; $0.containerPath = "/dev/crisp-loop"; $0.permissions = "r"
        },
        .with {
          $0.hostPath = "/dev/null"; $0.containerPath = "/dev/crisp-null"; $0.permissions = "rw"
        },
      ]
      let id = try await pods.runContainer(pod, podConfig, config)
      #expect(try await pods.exec(id, ["/bin/test", "-c", "/dev/crisp-loop"]).exitCode == 0)
      #expect(try await pods.exec(id, ["/bin/sh", "-c", "echo x > /dev/crisp-null"]).exitCode == 0)
      // Read-only in the device cgroup: opening for writing is refused.
      let denied = try await pods.exec(id, ["/bin/sh", "-c", "echo x > /dev/crisp-loop"])
      #expect(denied.exitCode != 0)
      #expect(String(decoding: denied.stderr, as: UTF8.self).contains("not permitted"), "\(String(decoding: denied.stderr, as: UTF8.self))")
      for (device, fragment) in [
        (
          Runtime_V1_Device.with {
            $0.hostPath = "/nonexistent/crisp-dev"; $0.containerPath = "/dev/x"
          }, "devices[0].host_path"
        ),
        (
          .with {
            $0.hostPath = "/etc/hostname"; $0.containerPath = "/dev/x"
          }, "not a character or block device"
        ),
        (
          .with {
            $0.hostPath = "/dev/null"; $0.containerPath = "/dev/x"; $0.permissions = "rwx"
          }, "devices[0].permissions"
        ),
      ] {
        var bad = pods.containerConfig("bad-device", command: ["/bin/true"])
        bad.devices = [device]
        do {
          _ = try await pods.runContainer(pod, podConfig, bad)
          Issue.record("accepted \(device)")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument)
          #expect(error.message.contains(fragment), "\(error.message)")
        }
      }
    }
  }

  @Test func seccompRuntimeDefaultAndLocalhostProfiles() async throws {
    let directory = try TestEnvironment.temporaryDirectory("crisp-seccomp")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    // Allow everything but mkdir/mkdirat, which fail with EPERM.
    let denyMkdir = """
      {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
       "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
      """
    try denyMkdir.write(toFile: directory + "/deny-mkdir.json", atomically: true, encoding: .utf8)
    try denyMkdir.replacingOccurrences(of: "\"mkdirat\"", with: "\"mkdriat\"").write(
      toFile: directory + "/typo.json", atomically: true, encoding: .utf8)
    try await PodHarness.with { pods in
      var podConfig = pods.podConfig("seccomp")
      podConfig.linux.securityContext.seccomp = .with { $0.profileType = .runtimeDefault }
      let pod = try await pods.runPod(podConfig)

      var confined = pods.containerConfig("default-profile", command: ["/bin/sleep", "1000"])
      confined.linux.securityContext.seccomp = .with { $0.profileType = .runtimeDefault }
      confined.linux.securityContext.capabilities.addCapabilities = ["SYS_ADMIN"]
      confined.linux.securityContext.capabilities.dropCapabilities = []
      let withAdmin = try await pods.runContainer(pod, podConfig, confined)
      #expect(try await Self.status(pods, withAdmin, "Seccomp") == "2")
      // With CAP_SYS_ADMIN the default profile lets mount through.
      #expect(try await pods.exec(withAdmin, ["/bin/sh", "-c", "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m"]).exitCode == 0)
      var plain = pods.containerConfig("default-no-admin", command: ["/bin/sleep", "1000"])
      plain.linux.securityContext.seccomp = .with { $0.profileType = .runtimeDefault }
      let noAdmin = try await pods.runContainer(pod, podConfig, plain)
      #expect(try await Self.status(pods, noAdmin, "Seccomp") == "2")
      #expect(try await pods.exec(noAdmin, ["/bin/echo", "still works"]).stdout == Data("still works\n".utf8))

      var local = pods.containerConfig("localhost-profile", command: ["/bin/sleep", "1000"])
      local.linux.securityContext.seccomp = .with {
        $0.profileType = .localhost; $0.localhostRef = directory + "/deny-mkdir.json"
      }
      let localID = try await pods.runContainer(pod, podConfig, local)
      let mkdir = try await pods.exec(localID, ["/bin/mkdir", "/tmp/denied"])
      #expect(mkdir.exitCode != 0)
      #expect(String(decoding: mkdir.stderr, as: UTF8.self).contains("Operation not permitted"), "\(String(decoding: mkdir.stderr, as: UTF8.self))")
      #expect(try await pods.exec(localID, ["/bin/touch", "/tmp/allowed"]).exitCode == 0)

      // Unconfined: no filter.
      var unconfined = pods.containerConfig("unconfined-profile", command: ["/bin/sleep", "1000"])
      unconfined.linux.securityContext.seccomp = .with { $0.profileType = .unconfined }
      #expect(try await Self.status(pods, try await pods.runContainer(pod, podConfig, unconfined), "Seccomp") == "0")

      for (ref, fragment) in [
        (directory + "/typo.json", "\"mkdriat\" is not a system call"), (directory + "/missing.json", "no such file"),
        ("relative.json", "must be an absolute path"),
      ] {
        let before = HostSnapshot.take(under: pods.daemon.directory)
        var bad = pods.containerConfig("bad-profile", command: ["/bin/true"])
        bad.linux.securityContext.seccomp = .with {
          $0.profileType = .localhost; $0.localhostRef = ref
        }
        do {
          _ = try await pods.runContainer(pod, podConfig, bad)
          Issue.record("accepted \(ref)")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument)
          #expect(error.message.contains("seccomp.localhost_ref"), "\(error.message)")
          #expect(error.message.contains(fragment), "\(error.message)")
        }
        #expect(HostSnapshot.take(under: pods.daemon.directory) == before)
      }
    }
  }

  /// crisp starts ExecSync commands itself (not through `runc exec`): the command must be confined exactly as
  /// the container's own process is. Compared from inside, against the container's process, for a
  /// plain container, a confined one (user, groups, dropped capabilities, no_new_privs, seccomp, read-only
  /// root) and a privileged one.
  @Test func execSyncCommandsAreConfinedLikeTheContainer() async throws {
    try await PodHarness.with { pods in
      var podConfig = pods.podConfig("exec-parity")
      podConfig.linux.securityContext.privileged = true
      let pod = try await pods.runPod(podConfig)
      var confined = pods.containerConfig("confined", command: ["/bin/sleep", "1002"])
      confined.linux.securityContext.runAsUser = .with { $0.value = 1000 }
      confined.linux.securityContext.runAsGroup = .with { $0.value = 2000 }
      confined.linux.securityContext.supplementalGroups = [3000, 3001]
      confined.linux.securityContext.noNewPrivs = true
      confined.linux.securityContext.readonlyRootfs = true
      confined.linux.securityContext.capabilities.dropCapabilities = ["ALL"]
      confined.linux.securityContext.capabilities.addCapabilities = ["NET_BIND_SERVICE", "CHOWN"]
      confined.linux.securityContext.seccomp = .with { $0.profileType = .runtimeDefault }
      confined.workingDir = "/tmp"
      var privileged = pods.containerConfig("privileged", command: ["/bin/sleep", "1003"])
      privileged.linux.securityContext.privileged = true
      let fields = "Uid Gid Groups Umask CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs Seccomp Seccomp_filters"
      // The container's process is `sleep <n>`, found by its command line (the pod's pause is pid 1).
      func script(_ n: Int) -> String {
        """
        for p in /proc/[0-9]*; do [ "$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)" = "/bin/sleep \(n) " ] && P=$p; done
        for f in \(fields); do a=$(grep "^$f:" $P/status); b=$(grep "^$f:" /proc/self/status); \\
          [ "$a" = "$b" ] && echo "same $f" || echo "DIFFERS $f: container '$a' exec '$b'"; done
        for n in mnt net ipc uts pid cgroup user; do \\
          [ -n "$(readlink $P/ns/$n)" ] && [ "$(readlink $P/ns/$n)" = "$(readlink /proc/self/ns/$n)" ] && echo "same ns $n" || echo "DIFFERS ns $n"; done
        [ "$(cat $P/cgroup)" = "$(cat /proc/self/cgroup)" ] && echo "same cgroup" || echo "DIFFERS cgroup"
        [ "$(cat $P/limits)" = "$(cat /proc/self/limits)" ] && echo "same limits" || echo "DIFFERS limits"
        [ "$(cat $P/oom_score_adj)" = "$(cat /proc/self/oom_score_adj)" ] && echo "same oom" || echo "DIFFERS oom"
        [ "$(readlink $P/cwd)" = "$(pwd)" ] && echo "same cwd" || echo "DIFFERS cwd"
        [ "$(tr '\\0' '\\n' < $P/environ | grep '^HOME=')" = "HOME=$HOME" ] && echo "same home" || echo "DIFFERS home: $HOME"
        """
      }
      let cases = [
        ("plain", pods.containerConfig("plain", command: ["/bin/sleep", "1001"]), 1001), ("confined", confined, 1002),
        ("privileged", privileged, 1003),
      ]
      for (name, config, n) in cases {
        let id = try await pods.runContainer(pod, podConfig, config)
        let result = try await pods.exec(id, ["/bin/sh", "-c", script(n)])
        let lines = Self.text(result).split(separator: "\n")
        #expect(lines.count == 12 + 7 + 5, "\(name): \(Self.text(result)) \(String(decoding: result.stderr, as: UTF8.self))")
        for line in lines { #expect(line.hasPrefix("same"), "\(name): \(line)") }
      }
      // A command the image does not have: the shell's answer, 127, with the reason on stderr.
      let plain = try await pods.runContainer(pod, podConfig, pods.containerConfig("missing", command: ["/bin/sleep", "1000"]))
      let missing = try await pods.exec(plain, ["no-such-command"])
      #expect(missing.exitCode == 127)
      #expect(
        String(decoding: missing.stderr, as: UTF8.self).contains("executable file not found"), "\(String(decoding: missing.stderr, as: UTF8.self))")
      #expect(try await pods.exec(plain, ["/etc/hostname"]).exitCode == 126)
    }
  }

  @Test func whatCrispDoesNotEnforceIsRefusedNotIgnored() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("refusals")
      let pod = try await pods.runPod(podConfig)
      func expectRefused(
        _ fragment: String, pod edit: ((inout Runtime_V1_PodSandboxConfig) -> Void)? = nil,
        container editContainer: ((inout Runtime_V1_ContainerConfig) -> Void)? = nil
      ) async throws {
        let before = HostSnapshot.take(under: pods.daemon.directory)
        do {
          if let edit {
            var config = pods.podConfig("refused")
            edit(&config)
            _ = try await pods.runPod(config)
          } else if let editContainer {
            var config = pods.containerConfig("refused", command: ["/bin/true"])
            editContainer(&config)
            _ = try await pods.runContainer(pod, podConfig, config)
          }
          Issue.record("accepted: \(fragment)")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument, "\(fragment): \(error)")
          #expect(error.message.contains(fragment), "\(error.message) lacks \(fragment)")
        }
        #expect(HostSnapshot.take(under: pods.daemon.directory) == before, "\(fragment) leaked")
      }
      try await expectRefused(
        "apparmor",
        container: {
          $0.linux.securityContext.apparmor = .with {
            $0.profileType = .localhost; $0.localhostRef = "crisp-test"
          }
        })
      try await expectRefused("selinux_options", container: { $0.linux.securityContext.selinuxOptions = .with { $0.type = "container_t" } })
      try await expectRefused("userns_options", pod: { $0.linux.securityContext.namespaceOptions.usernsOptions = .with { $0.mode = .pod } })
      try await expectRefused("sysctls[\"kernel.domainname\"]", pod: { $0.linux.sysctls = ["kernel.domainname": "x"] })
      try await expectRefused(
        "sysctls[\"net.ipv4.ip_forward\"]",
        pod: {
          $0.linux.securityContext.namespaceOptions.network = .node
          $0.linux.sysctls = ["net.ipv4.ip_forward": "1"]
        })
      try await expectRefused(
        "sysctls[\"kernel.shmmax\"]",
        pod: {
          $0.linux.securityContext.namespaceOptions.ipc = .node
          $0.linux.sysctls = ["kernel.shmmax": "1000000"]
        })
      // Unconfined and unset profiles are fine.
      var unconfined = pods.containerConfig("unconfined", command: ["/bin/true"])
      unconfined.linux.securityContext.seccomp = .with { $0.profileType = .unconfined }
      unconfined.linux.securityContext.apparmor = .with { $0.profileType = .unconfined }
      _ = try await pods.runContainer(pod, podConfig, unconfined)
    }
  }

  @Test func aContainerPastItsMemoryLimitIsOOMKilled() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("oom")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("hog", command: ["/bin/sh", "-c", "tail /dev/zero"])
      config.linux.resources.memoryLimitInBytes = 16 << 20
      let id = try await pods.runContainer(pod, podConfig, config)
      let status = try await pods.waitForExit(id, timeout: .seconds(60))
      #expect(status.exitCode == 137)
      #expect(status.reason == "OOMKilled")
    }
  }
}

/// UpdateContainerResources through runc update, UpdatePodSandboxResources, and PID mode TARGET.
@Suite(.serialized) struct ResourceUpdateTests {
  @Test func limitsChangeLiveAndAFailedUpdateKeepsTheOldOnes() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("resources")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig(
        "limited", command: ["/bin/sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=24 2>/dev/null; sleep 1000"])
      config.linux.resources.memoryLimitInBytes = 256 << 20
      let id = try await pods.runContainer(pod, podConfig, config)
      try await Task.sleep(for: .milliseconds(800))
      let memoryFile = "/sys/fs/cgroup/memory\(pods.cgroupParent)/\(id)/memory.limit_in_bytes"
      let unifiedFile = "/sys/fs/cgroup\(pods.cgroupParent)/\(id)/memory.max"
      func limit() -> String {
        ((try? String(contentsOfFile: memoryFile, encoding: .utf8)) ?? (try? String(contentsOfFile: unifiedFile, encoding: .utf8)) ?? "")
          .trimmingCharacters(in: .whitespacesAndNewlines)
      }
      #expect(limit() == "\(256 << 20)")
      try await pods.runtime { runtime in
        _ = try await runtime.updateContainerResources(
          .with {
            $0.containerID = id
            $0.linux.memoryLimitInBytes = 128 << 20
            $0.linux.cpuShares = 512
          })
      }
      #expect(limit() == "\(128 << 20)")
      // -1 swap is "unlimited", not a negative size.
      try await pods.runtime { runtime in
        _ = try await runtime.updateContainerResources(
          .with {
            $0.containerID = id
            $0.linux.memoryLimitInBytes = 128 << 20
            $0.linux.memorySwapLimitInBytes = -1
            $0.linux.cpuShares = 512
          })
      }
      #expect(limit() == "\(128 << 20)")
      var status = try await pods.runtime { try await $0.containerStatus(.with { $0.containerID = id }).status }
      #expect(status.resources.linux.memoryLimitInBytes == 128 << 20)
      #expect(status.resources.linux.cpuShares == 512)

      // The container holds 24 MiB of shared memory: a 4 MiB limit cannot be applied.
      do {
        _ = try await pods.runtime {
          try await $0.updateContainerResources(
            .with {
              $0.containerID = id; $0.linux.memoryLimitInBytes = 4 << 20
            })
        }
        Issue.record("a limit below the usage was applied")
      } catch let error as RPCError {
        #expect(error.message.contains("update"), "\(error.message)")
      }
      #expect(limit() == "\(128 << 20)")
      status = try await pods.runtime { try await $0.containerStatus(.with { $0.containerID = id }).status }
      #expect(status.resources.linux.memoryLimitInBytes == 128 << 20)

      for (request, code) in [
        (
          Runtime_V1_UpdateContainerResourcesRequest.with {
            $0.containerID = "missing"; $0.linux.cpuShares = 2
          }, RPCError.Code.notFound
        ),
        (.with { $0.containerID = id }, .invalidArgument),
        (
          .with {
            $0.containerID = id; $0.linux.memoryLimitInBytes = -5
          }, .invalidArgument
        ),
      ] {
        do {
          _ = try await pods.runtime { try await $0.updateContainerResources(request) }
          Issue.record("accepted \(request)")
        } catch let error as RPCError {
          #expect(error.code == code, "\(error)")
        }
      }
      _ = try await pods.runtime {
        try await $0.updatePodSandboxResources(
          .with {
            $0.podSandboxID = pod; $0.resources.cpuShares = 1024
          })
      }
      do {
        _ = try await pods.runtime { try await $0.updatePodSandboxResources(.with { $0.podSandboxID = "missing" }) }
        Issue.record("updated a missing sandbox")
      } catch let error as RPCError {
        #expect(error.code == .notFound)
      }
    }
  }

  @Test func pidModeTargetJoinsAnotherContainersProcesses() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("target")
      let pod = try await pods.runPod(podConfig)
      var targetConfig = pods.containerConfig("target", command: ["/bin/sleep", "4242"])
      targetConfig.linux.securityContext.namespaceOptions.pid = .container
      let target = try await pods.runContainer(pod, podConfig, targetConfig)
      var debugger = pods.containerConfig("debugger", command: ["/bin/sleep", "1000"])
      debugger.linux.securityContext.namespaceOptions.pid = .target
      debugger.linux.securityContext.namespaceOptions.targetID = target
      let id = try await pods.runContainer(pod, podConfig, debugger)
      let processes = String(decoding: try await pods.exec(id, ["/bin/ps", "-o", "args"]).stdout, as: UTF8.self)
      #expect(processes.contains("sleep 4242"), "\(processes)")
      var orphan = pods.containerConfig("orphan", command: ["/bin/true"])
      orphan.linux.securityContext.namespaceOptions.pid = .target
      orphan.linux.securityContext.namespaceOptions.targetID = String(repeating: "b", count: 64)
      do {
        _ = try await pods.runContainer(pod, podConfig, orphan)
        Issue.record("a missing target was accepted")
      } catch let error as RPCError {
        #expect(error.code == .notFound)
        #expect(error.message.contains("target_id"))
      }
    }
  }
}
