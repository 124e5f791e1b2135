import Config
import Testing

/// Fixtures in the shape of the operator notes crisp grew from: containerd's generated defaults with a
/// mirror for docker.io, a private Harbor with credentials and its own CA, and SystemdCgroup turned on.
@Suite struct ContainerdImporterTests {
  static let containerd1x = """
    disabled_plugins = []
    imports = []
    oom_score = -998
    plugin_dir = ""
    required_plugins = []
    root = "/data/containerd"
    state = "/run/containerd"
    version = 2

    [grpc]
      address = "/run/containerd/containerd.sock"
      gid = 0
      max_recv_message_size = 16777216

    [debug]
      level = "warn"

    [metrics]
      address = "127.0.0.1:1338"

    [plugins]
      [plugins."io.containerd.grpc.v1.cri"]
        enable_selinux = false
        max_container_log_line_size = 32768
        sandbox_image = "harbor.example.com/library/pause:3.6"
        stream_server_address = "127.0.0.1"
        stream_server_port = "10010"
        stream_idle_timeout = "2h0m0s"
        restrict_oom_score_adj = true
        [plugins."io.containerd.grpc.v1.cri".cni]
          bin_dir = "/opt/cni/bin"
          conf_dir = "/etc/cni/net.d"
          max_conf_num = 2
          conf_template = ""
        [plugins."io.containerd.grpc.v1.cri".containerd]
          default_runtime_name = "runc"
          snapshotter = "overlayfs"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
              runtime_type = "io.containerd.runc.v2"
              [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                BinaryName = ""
                SystemdCgroup = true
            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]
              runtime_type = "io.containerd.kata.v2"
        [plugins."io.containerd.grpc.v1.cri".registry]
          config_path = ""
          [plugins."io.containerd.grpc.v1.cri".registry.mirrors]
            [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
              endpoint = ["https://dockerhub.mirror.example.com", "https://registry-1.docker.io"]
            [plugins."io.containerd.grpc.v1.cri".registry.mirrors."harbor.example.com"]
              endpoint = ["https://harbor.example.com"]
          [plugins."io.containerd.grpc.v1.cri".registry.configs]
            [plugins."io.containerd.grpc.v1.cri".registry.configs."harbor.example.com".auth]
              username = "admin"
              password = "Harbor12345"
            [plugins."io.containerd.grpc.v1.cri".registry.configs."harbor.example.com".tls]
              ca_file = "/etc/containerd/certs/harbor-ca.crt"
              insecure_skip_verify = false
    """

  static let containerd2x = """
    version = 3
    root = '/var/lib/containerd'
    state = '/run/containerd'
    oom_score = 0

    [grpc]
      address = '/run/containerd/containerd.sock'
      gid = 1001

    [plugins]
      [plugins.'io.containerd.cri.v1.images']
        snapshotter = 'overlayfs'
        max_concurrent_downloads = 5
        image_pull_progress_timeout = '5m0s'
        [plugins.'io.containerd.cri.v1.images'.pinned_images]
          sandbox = 'harbor.example.com/k8s/pause:3.10'
        [plugins.'io.containerd.cri.v1.images'.registry]
          config_path = '/etc/containerd/certs.d'
          [plugins.'io.containerd.cri.v1.images'.registry.configs.'harbor.example.com'.auth]
            auth = 'YWRtaW46SGFyYm9yMTIzNDU='

      [plugins.'io.containerd.cri.v1.runtime']
        enable_selinux = false
        max_container_log_line_size = 16384
        [plugins.'io.containerd.cri.v1.runtime'.containerd]
          default_runtime_name = 'crun'
          [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
            runtime_type = 'io.containerd.runc.v2'
            [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
              SystemdCgroup = false
          [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.crun]
            runtime_type = 'io.containerd.runc.v2'
            pod_annotations = ['io.example.*', 'team']
            container_annotations = ['io.example.container/?']
            [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.crun.options]
              BinaryName = '/usr/local/bin/crun'
              Root = '/run/crun-root'
        [plugins.'io.containerd.cri.v1.runtime'.cni]
          bin_dirs = ['/opt/cni/bin', '/usr/lib/cni']
          conf_dir = '/etc/cni/net.d'
          max_conf_num = 1

      [plugins.'io.containerd.grpc.v1.cri']
        disable_tcp_service = true
        stream_server_address = '127.0.0.1'
        stream_server_port = '0'
        stream_idle_timeout = '4h0m0s'
        enable_tls_streaming = false
    """

  @Test func importsContainerd1x() throws {
    let result = try ContainerdImporter.importConfig(Self.containerd1x, source: "containerd.toml")
    let c = result.config
    #expect(c.root == "/data/containerd")
    #expect(c.state == CrispConfig().state)
    #expect(c.oomScore == -998)
    #expect(c.restrictOOMScoreAdj)
    #expect(c.log.level == .warning)
    #expect(c.sandboxImage == "harbor.example.com/library/pause:3.6")
    #expect(c.maxContainerLogLineSize == 32768)
    #expect(c.streaming.address == "127.0.0.1")
    #expect(c.streaming.port == 10010)
    #expect(c.streaming.idleTimeout == .seconds(7200))
    #expect(c.cni.binDirs == ["/opt/cni/bin"])
    #expect(c.cni.confDir == "/etc/cni/net.d")
    #expect(c.cni.maxConfNum == 2)
    #expect(c.snapshotter == .overlayfs)
    #expect(c.cgroupDriver == .systemd)
    #expect(c.runtime.defaultHandler == "runc")
    #expect(c.runtime.handlers["runc"] == .init(binary: "/usr/bin/runc", systemdCgroup: true))
    #expect(c.runtime.handlers["kata"] == nil)
    #expect(c.registry.configPath == "")
    #expect(c.registry.mirrors["docker.io"]?.endpoints == ["https://dockerhub.mirror.example.com", "https://registry-1.docker.io"])
    #expect(c.registry.mirrors["harbor.example.com"]?.endpoints == ["https://harbor.example.com"])
    #expect(c.registry.configs["harbor.example.com"]?.auth == .init(username: "admin", password: "Harbor12345"))
    #expect(c.registry.configs["harbor.example.com"]?.tls == .init(caFile: "/etc/containerd/certs/harbor-ca.crt"))

    // What has no crisp meaning is reported, with its line; keys at empty values are not noise.
    #expect(result.warnings.contains { $0.contains("containerd.toml:19: metrics.address") })
    #expect(result.warnings.contains { $0.contains("grpc.address") })
    #expect(result.warnings.contains { $0.contains("kata") })
    #expect(!result.warnings.contains { $0.contains("enable_selinux") })
    #expect(!result.warnings.contains { $0.contains("password") })

    // The printed configuration loads back to the same values.
    #expect(try ConfigLoader.parse(ConfigRenderer.render(c)) == c)
  }

  @Test func importsContainerd2x() throws {
    let result = try ContainerdImporter.importConfig(Self.containerd2x, source: "containerd.toml")
    let c = result.config
    #expect(c.root == CrispConfig().root)
    // oom_score = 0 is containerd's default, not a choice: crisp's own protection of the daemon stays.
    #expect(c.oomScore == CrispConfig().oomScore)
    #expect(
      result.warnings.contains { $0.contains("containerd.toml:4: oom_score: 0 is containerd's built-in default; keeping crisp's oom_score -999") })
    #expect(c.grpc.group == "1001")
    #expect(c.sandboxImage == "harbor.example.com/k8s/pause:3.10")
    #expect(c.maxConcurrentDownloads == 5)
    #expect(c.imagePullProgressTimeout == .seconds(300))
    #expect(c.registry.configPath == "/etc/containerd/certs.d")
    #expect(c.registry.mirrors.isEmpty)
    #expect(c.registry.configs["harbor.example.com"]?.auth?.auth == "YWRtaW46SGFyYm9yMTIzNDU=")
    #expect(c.cgroupDriver == .auto)
    #expect(c.runtime.defaultHandler == "crun")
    #expect(
      c.runtime.handlers["crun"]
        == .init(
          binary: "/usr/local/bin/crun", root: "/run/crun-root", podAnnotations: ["io.example.*", "team"],
          containerAnnotations: ["io.example.container/?"]))
    #expect(c.runtime.handlers["runc"] == .init(binary: "/usr/bin/runc", systemdCgroup: false))
    #expect(c.cni.binDirs == ["/opt/cni/bin", "/usr/lib/cni"])
    #expect(c.streaming.port == 0)
    #expect(c.streaming.idleTimeout == .seconds(4 * 3600))
    #expect(try ConfigLoader.parse(ConfigRenderer.render(c)) == c)
  }

  @Test func importsVersion1PluginsCri() throws {
    let text = """
      [plugins.cri]
        sandbox_image = "k8s.gcr.io/pause:3.1"
        max_container_log_line_size = 16384
        [plugins.cri.cni]
          bin_dir = "/opt/cni/bin"
          conf_dir = "/etc/cni/net.d"
        [plugins.cri.registry.mirrors."docker.io"]
          endpoint = ["https://registry-1.docker.io"]
      """
    let result = try ContainerdImporter.importConfig(text)
    let c = result.config
    // containerd 1.3's own default sandbox image: crisp keeps its built-in pause and says so.
    #expect(c.sandboxImage == CrispConfig().sandboxImage)
    #expect(result.warnings.contains { $0.contains("k8s.gcr.io/pause:3.1 is containerd's built-in default; keeping crisp's built-in pause") })
    #expect(c.registry.mirrors["docker.io"]?.endpoints == ["https://registry-1.docker.io"])
    #expect(c.registry.configPath == "")
  }

  /// What `containerd config default` prints (1.7 and 2.x): its built-in sandbox image and oom_score are
  /// not an operator's choices, so crisp's stay, each with a warning; a mirror's pause image still carries over.
  @Test(arguments: [
    (2, "sandbox_image", "registry.k8s.io/pause:3.8"), (2, "sandbox_image", "registry.k8s.io/pause:3.6"),
    (2, "sandbox_image", "registry.k8s.io/pause:3.9"), (3, "pinned_images.sandbox", "registry.k8s.io/pause:3.10"),
  ])
  func containerdDefaultsKeepCrispDefaults(version: Int, key: String, image: String) throws {
    let section = version == 3 ? "[plugins.'io.containerd.cri.v1.images']" : "[plugins.\"io.containerd.grpc.v1.cri\"]"
    let line = version == 3 ? "[plugins.'io.containerd.cri.v1.images'.pinned_images]\nsandbox = '\(image)'" : "sandbox_image = \"\(image)\""
    let text = "version = \(version)\noom_score = 0\n\(section)\n\(line)\n"
    let result = try ContainerdImporter.importConfig(text, source: "default.toml")
    #expect(result.config.sandboxImage == CrispConfig().sandboxImage)
    #expect(result.config.oomScore == CrispConfig().oomScore)
    #expect(
      result.warnings.contains { $0.contains("\(image) is containerd's built-in default; keeping crisp's built-in pause") }, "\(result.warnings)")
    #expect(result.warnings.contains { $0.contains("default.toml:2: oom_score: 0 is containerd's built-in default") }, "\(result.warnings)")

    let mirrored = try ContainerdImporter.importConfig(
      "version = \(version)\noom_score = -500\n\(section)\n\(line.replacingOccurrences(of: "registry.k8s.io", with: "mirror.example.com/k8s"))\n")
    #expect(mirrored.config.sandboxImage == image.replacingOccurrences(of: "registry.k8s.io", with: "mirror.example.com/k8s"))
    #expect(mirrored.config.oomScore == -500)
    #expect(!mirrored.warnings.contains { $0.contains("built-in default") })
  }

  @Test func cdiSettingsCarryOver() throws {
    let text = """
      version = 3
      [plugins."io.containerd.cri.v1.runtime"]
        enable_cdi = true
        cdi_spec_dirs = ["/etc/cdi", "/var/run/cdi", "/opt/cdi", "/etc/cdi"]
        device_ownership_from_security_context = true
      """
    let result = try ContainerdImporter.importConfig(text)
    #expect(result.config.cdi.specDirs == ["/etc/cdi", "/var/run/cdi", "/opt/cdi"])
    let owned = result.config.runtime.handlers.values.map(\.deviceOwnershipFromSecurityContext)
    #expect(!owned.isEmpty && !owned.contains(false))
    #expect(!result.warnings.contains { $0.contains("cdi") || $0.contains("device_ownership") })
    let off = try ContainerdImporter.importConfig("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\nenable_cdi = false\n")
    #expect(off.config.cdi.specDirs.isEmpty)
  }

  @Test func misspeltSectionsFromTheNotesAreWarnedAbout() throws {
    // The seed notes carry `registry.auth."host".auth` (singular): containerd ignores it silently; we say so.
    let text = """
      version = 2
      [plugins."io.containerd.grpc.v1.cri".registry.auth."192.168.0.100:8081".auth]
        username = "admin"
      """
    let result = try ContainerdImporter.importConfig(text, source: "c.toml")
    #expect(result.warnings.count == 1)
    #expect(result.warnings.first?.contains("c.toml:3") == true)
  }

  @Test func bothMirrorFormsIsAnError() {
    let text = """
      version = 2
      [plugins."io.containerd.grpc.v1.cri".registry]
        config_path = "/etc/containerd/certs.d"
      [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
        endpoint = ["https://m.example"]
      """
    #expect(throws: ConfigError.self) { try ContainerdImporter.importConfig(text) }
  }

  @Test func unknownVersionIsAnError() {
    #expect(throws: ConfigError.self) { try ContainerdImporter.importConfig("version = 9\n") }
  }
}
