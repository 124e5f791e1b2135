/// Writes a ``CrispConfig`` as a complete, commented TOML file.
///
/// `crisp config default` prints the defaults through this, and `crisp config import-containerd` prints the
/// imported configuration through it too, so both outputs document every key and load back to exactly the
/// values they were rendered from. The comments double as the configuration reference.
public enum ConfigRenderer {
  public static func render(_ c: CrispConfig) -> String {
    var out = TOMLWriter()
    renderTopLevel(c, into: &out)
    renderSections(c, into: &out)
    return out.text
  }

  /// The effective configuration (`crisp config dump`): every key with its value, and after each value a
  /// file set a `# from FILE` comment naming that file; a key without one is a built-in default.
  /// Credentials are redacted.
  public static func renderEffective(_ loaded: LoadedConfig) -> String {
    var out = TOMLWriter(sources: loaded.sources)
    out.comment("The effective crisp configuration: the main file, then each drop-in of config.d in order,")
    out.comment("merged key by key. \"# from FILE\" names the file that set a value; keys without it are defaults.")
    out.comment(loaded.files.isEmpty ? "Files read: none (built-in defaults)." : "Files read, in merge order:")
    for file in loaded.files { out.comment("  \(file.contains(where: \.isNewline) ? tomlQuoted(file) : file)") }
    out.blank()
    renderTopLevel(loaded.config.redacted, into: &out, header: false)
    renderSections(loaded.config.redacted, into: &out)
    return out.text
  }

  private static func renderSections(_ c: CrispConfig, into out: inout TOMLWriter) {
    renderServer(c, into: &out)
    renderCNI(c, into: &out)
    renderCDI(c, into: &out)
    renderRegistry(c, into: &out)
    renderRuntime(c, into: &out)
    renderStreamingAndMetrics(c, into: &out)
  }

  /// The top-level keys: directories, oom score, cgroup driver, images, container log lines.
  private static func renderTopLevel(_ c: CrispConfig, into out: inout TOMLWriter, header: Bool = true) {
    if header {
      out.comment("crisp configuration (/etc/crisp/config.toml). Every key is optional; the values shown are")
      out.comment("the built-in defaults unless this file was generated from another configuration.")
      out.comment("Check a file with `crisp config check FILE`: unknown keys and bad values are errors.")
      out.comment("")
      out.comment("Drop-ins: every *.toml file in config.d beside this file (/etc/crisp/config.d/, or")
      out.comment("<dir of --config>/config.d) is merged over it in lexical order, key by key: tables merge, a")
      out.comment("later scalar or array replaces the earlier one (e.g. 10-gpu.toml adding a runtime handler).")
      out.comment("At most 256 drop-ins of at most 4 MiB each; other names (backups, dotfiles) are ignored.")
      out.comment("`crisp config dump` prints the merged result with the file each value came from.")
      out.comment("")
      out.comment("Reload: SIGHUP (systemctl reload crisp) re-reads this file and the drop-ins. Applied at once:")
      out.comment("log.level, image_pull_progress_timeout, registry.* (mirrors, hosts.toml path, credentials,")
      out.comment("TLS), cni.bin_dirs, cni.plugin_timeout, cni.ip_pref, cdi.spec_dirs and each handler's")
      out.comment("pod_annotations and container_annotations. Any other changed key is logged and needs a")
      out.comment("restart; a file that fails to load is logged (file and line) and the running")
      out.comment("configuration is kept.")
      out.blank()
    }
    out.comment("Format version of this file.")
    out.set("version", 1)
    out.comment("Persistent data: the SQLite database (crisp.db), content store and snapshots.")
    out.set("root", c.root)
    out.comment("Data that does not survive a reboot: container state, network namespaces.")
    out.set("state", c.state)
    out.comment("The daemon's own oom_score_adj (-1000..1000). Where the kernel refuses to lower it (no")
    out.comment("CAP_SYS_RESOURCE) the current score is kept and one warning is logged.")
    out.set("oom_score", c.oomScore)
    out.comment("When true, no container or shim gets an oom_score_adj below the daemon's own.")
    out.set("restrict_oom_score_adj", c.restrictOOMScoreAdj)
    out.comment("\"auto\" (systemd when PID 1 is systemd, else cgroupfs), \"cgroupfs\" or \"systemd\". Must match")
    out.comment("kubelet's cgroupDriver.")
    out.set("cgroup_driver", c.cgroupDriver.rawValue)
    out.comment("The image of every pod's pause container. The default name is built into crisp locally and")
    out.comment("needs no registry; any other name is pulled (through the mirrors) when first needed.")
    out.set("sandbox_image", c.sandboxImage)
    out.comment("Images kubelet's image garbage collection must never remove (the sandbox image always is).")
    out.set("pinned_images", c.pinnedImages)
    out.comment("\"auto\" (overlayfs when a test mount on root works, else native), \"overlayfs\" or \"native\".")
    out.set("snapshotter", c.snapshotter.rawValue)
    out.comment("Layers of one image downloaded at the same time.")
    out.set("max_concurrent_downloads", c.maxConcurrentDownloads)
    out.comment("A pull that receives no bytes for this long is cancelled (Go duration: \"30s\", \"5m\").")
    out.set("image_pull_progress_timeout", c.imagePullProgressTimeout.description)
    out.comment("Container output lines longer than this many bytes become several partial log records.")
    out.set("max_container_log_line_size", c.maxContainerLogLineSize)
  }

  /// [grpc] and [log].
  private static func renderServer(_ c: CrispConfig, into out: inout TOMLWriter) {
    out.table(["grpc"], "The CRI socket kubelet and crictl connect to (mode 0660).")
    out.comment("Path of the unix socket.")
    out.set("address", c.grpc.address)
    out.comment("Group owning the socket (name or numeric id); empty means root.")
    out.set("group", c.grpc.group)

    out.table(["log"], "Daemon logs, written to standard error.")
    out.comment("trace, debug, info, notice, warning, error or critical. debug logs every RPC.")
    out.set("level", c.log.level.rawValue)
    out.comment("\"text\" or \"json\" (one object per line).")
    out.set("format", c.log.format.rawValue)
  }

  /// [cni].
  private static func renderCNI(_ c: CrispConfig, into out: inout TOMLWriter) {
    out.table(["cni"], "Pod networking through CNI plugins.")
    out.comment("Directories searched, in order, for plugin executables.")
    out.set("bin_dirs", c.cni.binDirs)
    out.comment("Network configurations (.conflist, .conf, .json), used in lexical order of file names.")
    out.set("conf_dir", c.cni.confDir)
    out.comment("How many valid configurations are used (each gives the pod an interface).")
    out.set("max_conf_num", c.cni.maxConfNum)
    out.comment("A template rendered into conf_dir when kubelet reports the node's pod CIDR; empty disables.")
    out.set("conf_template", c.cni.confTemplate)
    out.comment("How long one plugin call (ADD, DEL, CHECK) may run before it is killed and the call fails.")
    out.set("plugin_timeout", c.cni.pluginTimeout.description)
    out.comment("The pod's primary IP among eth0's addresses: \"ipv4\", \"ipv6\" or \"cni\" (the plugin's order).")
    out.set("ip_pref", c.cni.ipPref.rawValue)
    out.comment("Where network namespaces are pinned; empty: <state>/netns/<sandbox id>. Set \"/var/run/netns\" to")
    out.comment("see them with `ip netns` (named cni-<uuid> there).")
    out.set("netns_dir", c.cni.netnsDir)
  }

  /// [cdi].
  private static func renderCDI(_ c: CrispConfig, into out: inout TOMLWriter) {
    out.table(["cdi"], "Container Device Interface: devices pods ask for by name (CDI_devices, cdi.k8s.io/* annotations).")
    out.comment("Directories of CDI spec files (.json, .yaml), watched for changes. A device defined in a later")
    out.comment("directory overrides the same device in an earlier one; an empty list turns CDI off (requests fail).")
    out.set("spec_dirs", c.cdi.specDirs)
  }

  /// [registry] with its mirrors and per-host configs.
  private static func renderRegistry(_ c: CrispConfig, into out: inout TOMLWriter) {
    out.table(["registry"], "Image registries: mirrors, credentials, TLS.")
    out.comment("':'-separated directories of containerd-style hosts.toml files (<dir>/<host>/hosts.toml), read")
    out.comment("on every pull. Leave empty to use the inline mirrors below instead; setting both is an error.")
    out.set("config_path", c.registry.configPath)
    if c.registry.mirrors.isEmpty {
      out.comment("Inline mirrors, tried in order before the registry itself, e.g.:")
      out.comment("[registry.mirrors.\"docker.io\"]")
      out.comment("endpoint = [\"https://mirror.example.com\"]")
    }
    for host in c.registry.mirrors.keys.sorted() {
      guard let mirror = c.registry.mirrors[host] else { continue }
      out.table(["registry", "mirrors", host], nil)
      out.set("endpoint", mirror.endpoints)
    }
    if c.registry.configs.isEmpty {
      out.comment("Credentials and TLS per registry host, e.g.:")
      out.comment("[registry.configs.\"harbor.example.com\".auth]")
      out.comment("username = \"robot\"")
      out.comment("password = \"secret\"")
      out.comment("[registry.configs.\"harbor.example.com\".tls]")
      out.comment("ca_file = \"/etc/crisp/certs.d/harbor.example.com/ca.crt\"")
    }
    for host in c.registry.configs.keys.sorted() {
      guard let config = c.registry.configs[host] else { continue }
      if let auth = config.auth {
        out.table(["registry", "configs", host, "auth"], nil)
        out.set("username", auth.username)
        out.set("password", auth.password)
        out.set("auth", auth.auth)
        out.set("identitytoken", auth.identityToken)
      }
      if let tls = config.tls {
        out.table(["registry", "configs", host, "tls"], nil)
        out.set("ca_file", tls.caFile)
        out.set("cert_file", tls.certFile)
        out.set("key_file", tls.keyFile)
        out.set("insecure_skip_verify", tls.insecureSkipVerify)
      }
    }
  }

  /// [runtime] and its handlers.
  private static func renderRuntime(_ c: CrispConfig, into out: inout TOMLWriter) {
    out.table(["runtime"], "OCI runtimes; a pod selects one with its CRI runtime_handler.")
    out.comment("The handler used when a pod names none.")
    out.set("default_handler", c.runtime.defaultHandler)
    for name in c.runtime.handlers.keys.sorted() {
      guard let handler = c.runtime.handlers[name] else { continue }
      out.table(["runtime", "handlers", name], nil)
      out.comment("The runtime executable.")
      out.set("binary", handler.binary)
      out.comment("Its --root; empty means <state>/runtime/\(name).")
      out.set("root", handler.root)
      if let systemd = handler.systemdCgroup {
        out.set("systemd_cgroup", systemd)
      } else {
        out.comment("systemd_cgroup = true|false; unset follows cgroup_driver.")
      }
      out.comment("Pod annotations passed into the OCI specs of the pod's sandbox and containers, as glob patterns")
      out.comment("(e.g. \"io.example.*\"). None by default: runc acts on some annotations (org.systemd.property.*, run.oci.*).")
      out.set("pod_annotations", handler.podAnnotations)
      out.comment("Device nodes (CRI devices, CDI devices, a privileged container's host devices) owned by the")
      out.comment("container's user and group rather than the host's owner, as containerd's option of that name.")
      out.set("device_ownership_from_security_context", handler.deviceOwnershipFromSecurityContext)
      out.comment("Container annotations passed into the container's OCI spec, as glob patterns. None by default.")
      out.set("container_annotations", handler.containerAnnotations)
    }
  }

  /// [streaming], [metrics] and [tracing].
  private static func renderStreamingAndMetrics(_ c: CrispConfig, into out: inout TOMLWriter) {
    out.table(["streaming"], "The exec/attach/port-forward server kubelet proxies to.")
    out.comment("Listen address; keep it on loopback unless kubelet runs elsewhere.")
    out.set("address", c.streaming.address)
    out.comment("0 picks a free port at start-up.")
    out.set("port", c.streaming.port)
    out.comment("An exec or port-forward stream with no traffic for this long is closed.")
    out.set("idle_timeout", c.streaming.idleTimeout.description)
    out.comment("A client that has not opened all the streams of its exec or attach within this long is disconnected.")
    out.set("stream_creation_timeout", c.streaming.streamCreationTimeout.description)
    out.comment("PEM certificate and key for HTTPS; both empty means plain HTTP.")
    out.set("tls_cert_file", c.streaming.tlsCertFile)
    out.set("tls_key_file", c.streaming.tlsKeyFile)

    out.table(["metrics"], "Prometheus metrics (GET /metrics): per-RPC latency and errors, pulls, CNI calls, pods, containers, shims.")
    out.comment("host:port to serve them on, e.g. \"127.0.0.1:1338\"; empty means off.")
    out.set("address", c.metrics.address)

    out.table(["tracing"], "OpenTelemetry spans over OTLP: one per CRI call, with children for image layers, CNI plugins, runc and shims.")
    out.comment("Collector URL, e.g. \"http://127.0.0.1:4317\" (grpc) or \"http://127.0.0.1:4318\" (http/protobuf: /v1/traces")
    out.comment("is added when the URL has no path); empty means off, and then tracing costs nothing.")
    out.set("endpoint", c.tracing.endpoint)
    out.comment("\"grpc\" or \"http/protobuf\".")
    out.set("protocol", c.tracing.exportProtocol.rawValue)
    out.comment("Share of new traces recorded, 0.0 to 1.0. A call carrying kubelet's traceparent follows kubelet's choice.")
    out.set("sampling_ratio", c.tracing.samplingRatio)
    out.comment("service.name of the spans.")
    out.set("service_name", c.tracing.serviceName)
  }
}

/// Accumulates TOML lines.
struct TOMLWriter {
  private(set) var text = ""
  /// When set, each value a file set is followed by `# from FILE`.
  var sources: ConfigSources?
  /// The table the next keys belong to.
  private var tablePath: [String] = []

  init(sources: ConfigSources? = nil) {
    self.sources = sources
  }

  mutating func comment(_ line: String) { text += line.isEmpty ? "#\n" : "# \(line)\n" }
  mutating func blank() { text += "\n" }

  mutating func table(_ path: [String], _ comment: String?) {
    text += "\n"
    if let comment { self.comment(comment) }
    text += "[\(dotted(path))]\n"
    tablePath = path
  }

  mutating func set(_ key: String, _ value: String) { line(key, tomlQuoted(value)) }
  mutating func set(_ key: String, _ value: Int) { line(key, "\(value)") }
  mutating func set(_ key: String, _ value: Bool) { line(key, "\(value)") }
  /// A float: Swift prints one with a fraction or exponent (`1.0`, `1e-05`), both TOML floats.
  mutating func set(_ key: String, _ value: Double) { line(key, "\(value)") }
  mutating func set(_ key: String, _ value: [String]) { line(key, "[\(value.map(tomlQuoted).joined(separator: ", "))]") }

  private mutating func line(_ key: String, _ value: String) {
    text += "\(key) = \(value)"
    if let file = sources?.file(of: tablePath + [key]) {
      // A name with a line break would end the comment early.
      text += "  # from \(file.contains(where: \.isNewline) ? tomlQuoted(file) : file)"
    }
    text += "\n"
  }
}
