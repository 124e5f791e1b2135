import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// What a container does to its own filesystem must neither crash the daemon nor keep its removal from
/// finishing, and nothing it writes may be reachable by an unprivileged user of the node.
@Suite(.serialized) struct HostileFilesystemTests {
  /// Nests ~33 000 directories without `cd` (each round wraps the tree in 1 500 new levels: mkdir -p, then
  /// two renames) and makes names that are not UTF-8, then says it is done.
  static let deepTreeScript = """
    p=d; i=1; while [ $i -lt 1500 ]; do p="$p/d"; i=$((i+1)); done
    mkdir /tmp/t || exit 1
    j=0
    while [ $j -lt 22 ]; do
      mkdir -p /tmp/n/$p && busybox mv /tmp/t /tmp/n/$p/x && busybox mv /tmp/n /tmp/t || exit 1
      j=$((j+1))
    done
    touch "$(printf '/tmp/\\377')" && mkdir "$(printf '/tmp/\\376x')" && touch "$(printf '/tmp/\\376x/f\\377')" || exit 1
    touch /tmp/done
    exec sleep 1000
    """

  static let namesScript = """
    touch "$(printf '/tmp/\\377\\376')" && mkdir "$(printf '/tmp/\\303(')" && touch "$(printf '/tmp/\\303(/\\200')" || exit 1
    touch /tmp/done
    exec sleep 1000
    """

  static func waitForFile(_ pods: PodHarness, _ id: String, _ path: String, timeout: Duration) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      // (A failing command with no output is an exec error: ask for an answer instead.)
      let answer = try await pods.exec(id, ["/bin/sh", "-c", "if [ -e \(path) ]; then echo yes; else echo no; fi"])
      if UserNamespaceTests.text(answer) == "yes" { return }
      try await Task.sleep(for: .milliseconds(500))
    }
    throw HarnessError("\(path) did not appear in \(id) within \(timeout)")
  }

  static func listing(_ path: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

  @Test func aDeepTreeAndNamesThatAreNotUTF8AreRemovedWithTheirContainerAndPod() async throws {
    try await PodHarness.with { pods in
      let snapshots = pods.daemon.root + "/snapshots"
      let layersOnly = Self.listing(snapshots)
      let podConfig = pods.podConfig("hostile-tree")
      let pod = try await pods.runPod(podConfig)
      let withPod = Self.listing(snapshots)

      let deep = try await pods.runContainer(pod, podConfig, pods.containerConfig("deep", command: ["/bin/sh", "-c", Self.deepTreeScript]))
      try await Self.waitForFile(pods, deep, "/tmp/done", timeout: .seconds(300))
      // The usage walk counts the whole tree (33 000 directories), where a recursive one ran out of
      // descriptors (or stack) and answered less.
      let stats = try await WritableLayerWait.stats(pods, deep, inodes: 33_000)
      #expect(stats.writableLayer.inodesUsed.value >= 33_000, "\(stats.writableLayer)")

      try await pods.runtime { runtime in
        _ = try await runtime.stopContainer(
          .with {
            $0.containerID = deep; $0.timeout = 0
          })
        _ = try await runtime.removeContainer(.with { $0.containerID = deep })
        // Still answering, and the container is gone with its writable layer and bundle.
        _ = try await runtime.version(.init())
        #expect(try await runtime.listContainers(.init()).containers.isEmpty)
      }
      #expect(Self.listing(snapshots) == withPod, "the container's snapshot is left")
      #expect(!FileManager.default.fileExists(atPath: pods.daemon.state + "/containers/" + deep))

      // Removed with its pod, without RemoveContainer first.
      let names = try await pods.runContainer(pod, podConfig, pods.containerConfig("names", command: ["/bin/sh", "-c", Self.namesScript]))
      try await Self.waitForFile(pods, names, "/tmp/done", timeout: .seconds(30))
      try await pods.runtime { runtime in
        _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = pod })
        _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = pod })
        _ = try await runtime.version(.init())
        #expect(try await runtime.listPodSandbox(.init()).items.isEmpty)
      }
      #expect(Self.listing(snapshots) == layersOnly, "snapshots left")
      #expect(Self.listing(pods.daemon.state + "/containers").isEmpty)
      #expect(HostSnapshot.take(under: pods.daemon.directory) == .clean)
    }
  }

  /// Runs `/usr/bin/stat` (or `command`) as nobody with no groups; returns its status and output.
  static func asNobody(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try DaemonHarness.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--"] + arguments)
  }

  static func mode(_ path: String) -> (mode: Int, group: Int)? {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
      let mode = attributes[.posixPermissions] as? NSNumber, let group = attributes[.groupOwnerAccountID] as? NSNumber
    else { return nil }
    return (mode.intValue, group.intValue)
  }

  @Test func nobodyOnTheNodeReachesNoContainerRootSnapshotOrShm() async throws {
    try await PodHarness.with { pods in
      let plainConfig = pods.podConfig("plain")
      let plain = try await pods.runPod(plainConfig)
      let a = try await pods.runContainer(plain, plainConfig, pods.containerConfig("a", command: ["/bin/sleep", "1000"]))
      let host: UInt32 = 2_100_000
      var usernsConfig = pods.podConfig("userns")
      usernsConfig.linux.securityContext.namespaceOptions.usernsOptions = .with {
        $0.mode = .pod
        $0.uids = [
          .with {
            $0.hostID = host; $0.containerID = 0; $0.length = 65536
          }
        ]
        $0.gids = [
          .with {
            $0.hostID = host; $0.containerID = 0; $0.length = 65536
          }
        ]
      }
      let userns = try await pods.runPod(usernsConfig)
      var bConfig = pods.containerConfig("b", command: ["/bin/sleep", "1000"])
      bConfig.linux.securityContext.namespaceOptions.usernsOptions = usernsConfig.linux.securityContext.namespaceOptions.usernsOptions
      let b = try await pods.runContainer(userns, usernsConfig, bConfig)

      // Root in each container leaves a setuid-root shell and a file in the pod's /dev/shm.
      for id in [a, b] {
        let written = try await pods.exec(
          id, ["/bin/sh", "-c", "busybox cp /bin/busybox /tmp/suid && chmod 4755 /tmp/suid && echo secret > /dev/shm/secret"])
        #expect(written.exitCode == 0, "\(String(decoding: written.stderr, as: UTF8.self))")
      }

      let state = pods.daemon.state, root = pods.daemon.root
      func check() throws {
        // The node's nobody can stat the shared parents (a control that setpriv works here).
        let control = try Self.asNobody(["/usr/bin/stat", state + "/containers"])
        #expect(control.status == 0, "\(control.output)")
        var targets: [String] = []
        // The private directories themselves: not listable (stat of them needs only the shared parent).
        var directories = [root + "/snapshots"]
        for id in [a, b, plain, userns] { directories.append(state + "/containers/\(id)") }
        for id in [plain, userns] { directories += [state + "/sandboxes/\(id)", root + "/sandboxes/\(id)"] }
        for directory in directories {
          let listed = try Self.asNobody(["/bin/ls", directory])
          #expect(listed.status != 0 && listed.output.contains("Permission denied"), "nobody listed \(directory): \(listed.output)")
        }
        for id in [a, b] {
          targets += [state + "/containers/\(id)/rootfs/tmp/suid", state + "/containers/\(id)/rootfs"]
        }
        for id in [plain, userns] {
          targets += [
            state + "/sandboxes/\(id)/shm/secret", state + "/sandboxes/\(id)/shm", state + "/containers/\(id)/rootfs",
            root + "/sandboxes/\(id)/hosts",
          ]
        }
        for name in Self.listing(root + "/snapshots") {
          targets.append(root + "/snapshots/\(name)/fs")
          if FileManager.default.fileExists(atPath: root + "/snapshots/\(name)/fs/tmp/suid") {
            targets.append(root + "/snapshots/\(name)/fs/tmp/suid")
          }
        }
        for target in targets {
          #expect(FileManager.default.fileExists(atPath: target), "\(target) should exist for the check to mean something")
          let seen = try Self.asNobody(["/usr/bin/stat", target])
          #expect(seen.status != 0 && seen.output.contains("Permission denied"), "nobody reached \(target): \(seen.output)")
        }
        for id in [a, b] {
          let ran = try Self.asNobody([state + "/containers/\(id)/rootfs/tmp/suid", "id", "-u"])
          #expect(ran.status != 0 && !ran.output.hasPrefix("0"), "nobody ran the container's setuid binary: \(ran.output)")
        }
        // Modes: root's alone, or traversable by the user-namespaced pod's root group.
        #expect(Self.mode(state + "/containers/\(a)").map { [$0.mode, $0.group] } == [0o700, 0])
        #expect(Self.mode(state + "/containers/\(b)").map { [$0.mode, $0.group] } == [0o710, Int(host)])
        #expect(Self.mode(state + "/sandboxes/\(userns)").map { [$0.mode, $0.group] } == [0o710, Int(host)])
        #expect(Self.mode(root + "/snapshots")?.mode == 0o700)
      }
      try check()

      // The containers still work, and their root filesystems are not nosuid (setuid binaries inside
      // still work: runc's bind of the root filesystem keeps the mount's flags).
      for id in [a, b] {
        #expect(UserNamespaceTests.text(try await pods.exec(id, ["/bin/cat", "/dev/shm/secret"])) == "secret")
        let mounts = UserNamespaceTests.text(try await pods.exec(id, ["/bin/cat", "/proc/self/mountinfo"]))
        let rootLine = mounts.split(separator: "\n").first { $0.split(separator: " ").dropFirst(4).first == "/" }
        #expect(rootLine.map { !$0.contains("nosuid") } == true, "\(rootLine ?? "no / mount")")
      }

      // An install made by an older crisp (0711/0755 directories) is repaired when the daemon starts.
      for (path, mode) in [
        (state + "/containers/\(a)", 0o755), (state + "/containers/\(b)", 0o711), (state + "/sandboxes/\(plain)", 0o755),
        (state + "/sandboxes/\(userns)", 0o755), (root + "/sandboxes/\(userns)", 0o755), (root + "/snapshots", 0o711),
      ] {
        #expect(chown(path, 0, 0) == 0 && chmod(path, mode_t(mode)) == 0)
      }
      pods.daemon.signal(SIGKILL)
      _ = try pods.daemon.waitForExit()
      try pods.daemon.start()
      try check()
      // A new container in the user-namespaced pod still reaches its pod's files and shm.
      var cConfig = bConfig
      cConfig.metadata.name = "c"
      let c = try await pods.runContainer(userns, usernsConfig, cConfig)
      #expect(UserNamespaceTests.text(try await pods.exec(c, ["/bin/cat", "/dev/shm/secret"])) == "secret")
    }
  }
}
