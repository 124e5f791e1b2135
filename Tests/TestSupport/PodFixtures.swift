public import CRIAPI
import CrispCore
import Foundation
import GRPCCore
public import GRPCNIOTransportHTTP2

/// A daemon with a loopback registry holding a busybox image, for pod and container tests.
public final class PodHarness: @unchecked Sendable {
  public let daemon: DaemonHarness
  public let registry: RegistryHarness
  public let image: String
  public let logDirectory: String
  /// A cgroup parent of this harness's own, removed by ``cleanUp()``.
  public let cgroupParent = "/crisp-test-" + String(UUID().uuidString.prefix(8)).lowercased()

  /// busybox applets linked in the test image.
  static let applets = [
    "true", "false", "sleep", "echo", "hostname", "wget", "httpd", "ps", "grep", "cat", "id", "mkdir", "ls", "stty",
    "printf", "head", "nc", "mount", "umount", "touch", "kill", "env", "tail", "wc", "dd", "rm", "su", "ping", "ip",
    "sysctl", "test", "seq", "awk", "sed", "chmod", "chown", "whoami", "tr", "od",
  ]

  /// The pods' bridge network, private to this harness.
  public let network: TestNetwork

  public init(
    extraConfig: String = "", cniConfig: String = "", writeNetwork: Bool = true, environment: [String: String] = [:]
  ) async throws {
    registry = try RegistryHarness()
    let spec: [String: Any] = [
      "repository": "pods/busybox", "tag": "1",
      "images": [
        [
          "config": ["Cmd": ["/bin/sh"], "Env": ["PATH=/bin", "IMAGE_VAR=image"], "WorkingDir": "/"],
          "layers": [
            [
              "compression": "gzip",
              "entries": [
                ["path": "bin", "type": "dir"], ["path": "bin/busybox", "type": "file", "source": "/bin/busybox", "mode": 0o755],
                ["path": "bin/sh", "type": "symlink", "target": "busybox"],
              ] + PodHarness.applets.map { ["path": "bin/\($0)", "type": "symlink", "target": "busybox"] } + [
                ["path": "etc", "type": "dir"],
                [
                  "path": "etc/passwd", "type": "file",
                  "content": "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www:/var/www:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
                ],
                ["path": "etc/group", "type": "file", "content": "root:x:0:\nwww-data:x:33:\nextra:x:1234:www-data\n"],
                ["path": "tmp", "type": "dir", "mode": 0o1777],
              ],
            ]
          ],
        ]
      ],
    ]
    try registry.push(spec)
    image = "\(registry.host)/pods/busybox:1"
    daemon = try DaemonHarness()
    daemon.environment = environment
    logDirectory = daemon.directory + "/logs"
    let certs = daemon.directory + "/certs.d/" + registry.host
    try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
    try "server = \"http://\(registry.host)\"\n".write(toFile: certs + "/hosts.toml", atomically: true, encoding: .utf8)
    try daemon.writeConfig("\(extraConfig)\n[registry]\nconfig_path = \"\(daemon.directory)/certs.d\"", cni: cniConfig)
    network = TestNetwork(directory: daemon.directory)
    if writeNetwork { try network.writeConfig(to: daemon.cniConfDir) }
    try daemon.start()
    _ = try await daemon.withClients { _, images in try await images.pullImage(.with { $0.image.image = self.image }) }
  }

  /// A pod config with a unique uid and this harness's log directory.
  public func podConfig(_ name: String = "pod", labels: [String: String] = [:]) -> Runtime_V1_PodSandboxConfig {
    .with {
      $0.metadata.name = name
      $0.metadata.namespace = "default"
      $0.metadata.uid = UUID().uuidString
      $0.hostname = name
      $0.logDirectory = logDirectory + "/" + $0.metadata.uid
      $0.labels = labels
      $0.annotations = ["test.crisp/annotation": "value \(name)"]
      $0.linux.cgroupParent = cgroupParent
    }
  }

  public func containerConfig(_ name: String, command: [String], tty: Bool = false, stdin: Bool = false) -> Runtime_V1_ContainerConfig {
    .with {
      $0.metadata.name = name
      $0.image.image = image
      $0.command = command
      $0.logPath = "\(name).log"
      $0.labels = ["container": name]
      $0.tty = tty
      $0.stdin = stdin
    }
  }

  public func runtime<T: Sendable>(_ body: @Sendable (Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>) async throws -> T) async throws
    -> T
  {
    try await daemon.withClients { runtime, _ in try await body(runtime) }
  }

  /// Runs a pod and returns its id.
  public func runPod(_ config: Runtime_V1_PodSandboxConfig, handler: String = "") async throws -> String {
    try await runtime {
      try await $0.runPodSandbox(
        .with {
          $0.config = config; $0.runtimeHandler = handler
        }
      ).podSandboxID
    }
  }

  /// Creates and starts a container in `pod`.
  public func runContainer(_ pod: String, _ podConfig: Runtime_V1_PodSandboxConfig, _ config: Runtime_V1_ContainerConfig) async throws -> String {
    try await runtime { runtime in
      let id = try await runtime.createContainer(
        .with {
          $0.podSandboxID = pod
          $0.config = config
          $0.sandboxConfig = podConfig
        }
      ).containerID
      _ = try await runtime.startContainer(.with { $0.containerID = id })
      return id
    }
  }

  public func exec(_ container: String, _ command: [String], timeout: Int64 = 10) async throws -> Runtime_V1_ExecSyncResponse {
    try await runtime {
      try await $0.execSync(
        .with {
          $0.containerID = container; $0.cmd = command; $0.timeout = timeout
        })
    }
  }

  public func status(_ container: String) async throws -> Runtime_V1_ContainerStatus {
    try await runtime { try await $0.containerStatus(.with { $0.containerID = container }).status }
  }

  /// Waits until the container has exited.
  public func waitForExit(_ container: String, timeout: Duration = .seconds(20)) async throws -> Runtime_V1_ContainerStatus {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      let status = try await status(container)
      if status.state == .containerExited { return status }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw HarnessError("container \(container) did not exit within \(timeout)")
  }

  /// Runs `body` with a fresh harness, then always removes every pod, stops the daemon and the registry.
  public static func with(
    extraConfig: String = "", cniConfig: String = "", writeNetwork: Bool = true, environment: [String: String] = [:],
    _ body: (PodHarness) async throws -> Void
  ) async throws {
    let pods = try await PodHarness(extraConfig: extraConfig, cniConfig: cniConfig, writeNetwork: writeNetwork, environment: environment)
    do {
      try await body(pods)
    } catch {
      await pods.cleanUp()
      pods.shutDown()
      throw error
    }
    await pods.cleanUp()
    pods.shutDown()
  }

  /// Removes every pod (and so container) the daemon knows, and this harness's cgroups.
  public func cleanUp() async {
    _ = try? await runtime { runtime in
      for pod in try await runtime.listPodSandbox(.init()).items {
        _ = try? await runtime.stopPodSandbox(.with { $0.podSandboxID = pod.id })
        _ = try? await runtime.removePodSandbox(.with { $0.podSandboxID = pod.id })
      }
    }
    let roots = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).map { "/sys/fs/cgroup/\($0)" } + ["/sys/fs/cgroup"]
    // Depth first: pods with a cgroup of their own under the harness's parent leave (empty) directories.
    func removeTree(_ path: String) {
      for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory), isDirectory.boolValue {
          removeTree(path + "/" + name)
        }
      }
      rmdir(path)
    }
    for root in roots { removeTree(root + cgroupParent) }
  }

  /// Stops the daemon and the registry and deletes this harness's bridge.
  public func shutDown() {
    daemon.stop()
    registry.stop()
    network.remove()
  }

  /// The cgroup directories (any hierarchy) still under this harness's parent.
  public var leftoverCgroups: [String] {
    let roots = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).map { "/sys/fs/cgroup/\($0)" }
    return roots.flatMap { root in
      ((try? FileManager.default.contentsOfDirectory(atPath: root + cgroupParent)) ?? []).map { root + cgroupParent + "/" + $0 }
    }
    .filter { (try? FileManager.default.attributesOfItem(atPath: $0)[.type] as? FileAttributeType) == .typeDirectory }
  }
}

/// What of the host a test checks was not leaked: mounts under a directory, processes, netns files.
public struct HostSnapshot: Equatable, Sendable, CustomStringConvertible {
  public var mounts: [String]
  public var shims: [String]
  public var netns: [String]

  public init(mounts: [String], shims: [String], netns: [String]) {
    self.mounts = mounts
    self.shims = shims
    self.netns = netns
  }

  /// Nothing at all.
  public static let clean = HostSnapshot(mounts: [], shims: [], netns: [])

  public static func take(under directory: String) -> HostSnapshot {
    // Foundation stops reading a /proc file after the first read(2) (one page); FilePath reads to EOF.
    let mountinfo = ((try? FilePath.readText("/proc/self/mountinfo")) ?? nil) ?? ""
    let mounts = mountinfo.split(separator: "\n").compactMap { line -> String? in
      let fields = line.split(separator: " ")
      guard fields.count > 4, fields[4].hasPrefix(directory) else { return nil }
      return String(fields[4])
    }.sorted()
    var shims: [String] = []
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(entry) != nil {
      guard let bytes = (try? FilePath.read("/proc/\(entry)/cmdline")) ?? nil, case let command = String(decoding: bytes, as: UTF8.self),
        command.contains("crisp-shim"),
        command.contains(directory)
      else { continue }
      shims.append(command.replacingOccurrences(of: "\0", with: " "))
    }
    let netns = ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/state/netns")) ?? []).sorted()
    return HostSnapshot(mounts: mounts, shims: shims.sorted(), netns: netns)
  }

  public var description: String { "mounts \(mounts), shims \(shims), netns \(netns)" }
}
