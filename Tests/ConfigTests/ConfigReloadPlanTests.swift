import Config
import Testing

/// What a SIGHUP reload takes and what it leaves for a restart, key by key.
@Suite struct ConfigReloadPlanTests {
  @Test func reloadableKeysAreAppliedAndRestartOnlyKeysKept() {
    let running = CrispConfig()
    var loaded = running
    loaded.log.level = .debug
    loaded.root = "/data/crisp"
    loaded.imagePullProgressTimeout = .seconds(5)
    loaded.registry.configPath = ""
    loaded.registry.mirrors["docker.io"] = .init(endpoints: ["https://mirror.local"])
    loaded.cni.binDirs = ["/usr/lib/cni"]
    loaded.cni.confDir = "/etc/cni/other"
    loaded.runtime.handlers["runc"]?.podAnnotations = ["io.example.*"]
    loaded.streaming.port = 10010

    let plan = ConfigReloadPlan(running: running, loaded: loaded)
    #expect(
      Set(plan.reloaded) == [
        "log.level", "image_pull_progress_timeout", "registry.config_path", "registry.mirrors", "cni.bin_dirs",
        "runtime.handlers.*.pod_annotations",
      ])
    #expect(plan.groups == [.logLevel, .imagePull, .registry, .cni, .annotations])
    #expect(plan.restartOnly.map(\.key) == ["root", "cni.conf_dir", "streaming.port"])
    #expect(plan.restartOnly.first == .init(key: "root", kept: "/var/lib/crisp", wanted: "/data/crisp"))

    // The result: new reloadable values, old restart-only ones.
    #expect(plan.applied.log.level == .debug)
    #expect(plan.applied.registry.mirrors["docker.io"]?.endpoints == ["https://mirror.local"])
    #expect(plan.applied.runtime.handlers["runc"]?.podAnnotations == ["io.example.*"])
    #expect(plan.applied.root == "/var/lib/crisp")
    #expect(plan.applied.cni.confDir == "/etc/cni/net.d")
    #expect(plan.applied.cni.binDirs == ["/usr/lib/cni"])
    #expect(plan.applied.streaming.port == 0)
  }

  @Test func handlersAddedOrChangedNeedARestartButTheirAllowListsDoNot() {
    let running = CrispConfig()
    var loaded = running
    loaded.runtime.handlers["kata"] = .init(binary: "/usr/bin/kata-runtime", podAnnotations: ["io.katacontainers.*"])
    loaded.runtime.handlers["runc"]?.containerAnnotations = ["io.gpu.*"]
    loaded.runtime.handlers["crun"]?.binary = "/usr/local/bin/crun"

    let plan = ConfigReloadPlan(running: running, loaded: loaded)
    #expect(plan.reloaded == ["runtime.handlers.*.container_annotations"])
    #expect(plan.restartOnly.map(\.key) == ["runtime.handlers"])
    #expect(plan.applied.runtime.handlers["kata"] == nil)
    #expect(plan.applied.runtime.handlers["crun"]?.binary == "/usr/bin/crun")
    #expect(plan.applied.runtime.handlers["runc"]?.containerAnnotations == ["io.gpu.*"])
  }

  @Test func noChangeIsAnEmptyPlan() {
    var config = CrispConfig()
    config.log.level = .warning
    let plan = ConfigReloadPlan(running: config, loaded: config)
    #expect(plan.reloaded.isEmpty)
    #expect(plan.restartOnly.isEmpty)
    #expect(plan.groups.isEmpty)
    #expect(plan.applied == config)
  }

  @Test func everyKeyIsClassifiedOnce() {
    let names = ReloadKeys.all.map(\.name)
    #expect(Set(names).count == names.count)
    // Changing every reloadable key at once leaves nothing unexplained.
    var loaded = CrispConfig()
    loaded.oomScore = 0
    loaded.restrictOOMScoreAdj = true
    loaded.cgroupDriver = .systemd
    loaded.sandboxImage = "example/pause:1"
    loaded.pinnedImages = ["a"]
    loaded.snapshotter = .native
    loaded.maxConcurrentDownloads = 9
    loaded.maxContainerLogLineSize = 1
    loaded.grpc.group = "wheel"
    loaded.log.format = .json
    loaded.cni.maxConfNum = 2
    loaded.cni.confTemplate = "/t"
    loaded.cni.netnsDir = "/var/run/netns"
    loaded.cni.pluginTimeout = .seconds(1)
    loaded.cni.ipPref = .ipv6
    loaded.registry.configs["h"] = .init(auth: .init(username: "u"))
    loaded.streaming.address = "0.0.0.0"
    loaded.streaming.idleTimeout = .seconds(1)
    loaded.streaming.streamCreationTimeout = .seconds(1)
    loaded.streaming.tlsCertFile = "/c"
    loaded.streaming.tlsKeyFile = "/k"
    loaded.metrics.address = "127.0.0.1:1"
    loaded.tracing.endpoint = "http://127.0.0.1:4317"
    loaded.tracing.exportProtocol = .httpProtobuf
    loaded.tracing.samplingRatio = 0.5
    loaded.tracing.serviceName = "node-1"
    loaded.runtime.defaultHandler = "crun"
    let plan = ConfigReloadPlan(running: CrispConfig(), loaded: loaded)
    #expect(!plan.restartOnly.contains { $0.key.hasPrefix("(") })
    #expect(Set(plan.reloaded) == ["cni.plugin_timeout", "cni.ip_pref", "registry.configs"])
    #expect(plan.restartOnly.count == 24)
  }
}
