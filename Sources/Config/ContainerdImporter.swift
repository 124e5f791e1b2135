import TOMLKit

/// Translates a containerd configuration (1.x `version = 1`/`2` or 2.x `version = 3`) into crisp's.
///
/// Operators moving a node from containerd bring a config.toml that took effort to get right: mirrors,
/// Harbor credentials, the sandbox image their air-gapped registry carries. This keeps what has a meaning in
/// crisp and lists every other key that carries a value, so nothing is dropped without the operator knowing.
public enum ContainerdImporter {
  public struct Result: Sendable {
    public var config: CrispConfig
    /// One line per containerd key that was set but has no crisp equivalent, with its line number.
    public var warnings: [String]
  }

  /// The sandbox images containerd releases use when their configuration names none (1.3 … 2.x), which
  /// `containerd config default` prints: importing one would replace crisp's built-in pause for nothing.
  public static let containerdDefaultSandboxImages: Set<String> = [
    "k8s.gcr.io/pause:3.1", "k8s.gcr.io/pause:3.2", "k8s.gcr.io/pause:3.5", "k8s.gcr.io/pause:3.6",
    "registry.k8s.io/pause:3.6", "registry.k8s.io/pause:3.8", "registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.10",
  ]
  /// containerd's default `oom_score` (leave the daemon's score alone); crisp's default protects the daemon.
  public static let containerdDefaultOOMScore = 0

  public static func importConfig(_ text: String, source: String = "config.toml") throws(ConfigError) -> Result {
    let root = try parseTOML(text, source: source)
    var doc = FlatDocument(root.table, context: root.context)
    var c = CrispConfig()
    var warnings: [String] = []

    let version = doc.take(["version"])?.int ?? 1
    let paths = try sectionPaths(version: version, root: root, source: source)
    importDaemon(&doc, into: &c, warnings: &warnings)
    try importImages(&doc, paths, version: version, into: &c, warnings: &warnings)
    importRuntime(&doc, paths, into: &c, warnings: &warnings)
    importStreaming(&doc, paths, into: &c, warnings: &warnings)

    warnings += doc.leftovers()
    // The result must itself be a valid crisp configuration; checking it here turns a mapping that cannot
    // work (both mirror forms set, say) into an error now rather than at the daemon's next start.
    let rendered = ConfigRenderer.render(c)
    do {
      _ = try ConfigLoader.parse(rendered, source: "imported configuration")
    } catch {
      throw ConfigError(key: error.key, line: nil, message: "the imported configuration is not valid: \(error.message)", source: source)
    }
    return Result(config: c, warnings: warnings)
  }

  /// Where the CRI settings live in one generation of containerd's format.
  private struct SectionPaths {
    var server: [String]
    var images: [String]
    var runtime: [String]
  }

  /// The section paths of configuration `version` (1, 2 or 3).
  private static func sectionPaths(version: Int, root: TableReader, source: String) throws(ConfigError) -> SectionPaths {
    let server: [String]
    let images: [String]
    let runtime: [String]
    switch version {
    case 1:
      server = ["plugins", "cri"]
      images = server
      runtime = server
    case 2:
      server = ["plugins", "io.containerd.grpc.v1.cri"]
      images = server
      runtime = server
    case 3:
      server = ["plugins", "io.containerd.grpc.v1.cri"]
      images = ["plugins", "io.containerd.cri.v1.images"]
      runtime = ["plugins", "io.containerd.cri.v1.runtime"]
    default:
      throw ConfigError(
        key: "version", line: root.context.line(of: ["version"]),
        message: "unknown containerd configuration version \(version) (1, 2 and 3 are understood)", source: source)
    }
    return SectionPaths(server: server, images: images, runtime: runtime)
  }

  /// Directories, oom score, socket group and log settings.
  private static func importDaemon(_ doc: inout FlatDocument, into c: inout CrispConfig, warnings: inout [String]) {
    if let v = doc.take(["root"])?.string, v != "/var/lib/containerd" { c.root = v }
    if let v = doc.take(["state"])?.string, v != "/run/containerd" { c.state = v }
    if let v = doc.take(["oom_score"])?.int {
      if v == containerdDefaultOOMScore {
        warnings.append(
          doc.note(
            ["oom_score"],
            "\(v) is containerd's built-in default; keeping crisp's oom_score \(c.oomScore) (set it in crisp's configuration to keep \(v))"))
      } else {
        c.oomScore = v
      }
    }
    if let gid = doc.take(["grpc", "gid"])?.int, gid != 0 { c.grpc.group = String(gid) }
    if let level = doc.take(["debug", "level"])?.string, !level.isEmpty {
      let mapped: [String: CrispConfig.Log.Level] = [
        "trace": .trace, "debug": .debug, "info": .info, "warn": .warning, "warning": .warning,
        "error": .error, "fatal": .critical, "panic": .critical,
      ]
      if let l = mapped[level] { c.log.level = l } else { warnings.append(doc.note(["debug", "level"], "unknown level \(tomlQuoted(level))")) }
    }
    if let format = doc.take(["debug", "format"])?.string, !format.isEmpty {
      if let f = CrispConfig.Log.Format(rawValue: format) {
        c.log.format = f
      } else {
        warnings.append(doc.note(["debug", "format"], "unknown format \(tomlQuoted(format))"))
      }
    }
  }

  /// The sandbox image, snapshotter, downloads and registries.
  private static func importImages(
    _ doc: inout FlatDocument, _ paths: SectionPaths, version: Int, into c: inout CrispConfig, warnings: inout [String]
  ) throws(ConfigError) {
    let (server, images) = (paths.server, paths.images)
    for path in [server + ["sandbox_image"], images + ["pinned_images", "sandbox"]] {
      guard let v = doc.take(path)?.string, !v.isEmpty else { continue }
      if containerdDefaultSandboxImages.contains(v) {
        // containerd writes its own default into `containerd config default`: that is no operator's choice,
        // and crisp's built-in pause (made locally, no pull) serves better than a pull of the same image.
        warnings.append(doc.note(path, "\(v) is containerd's built-in default; keeping crisp's built-in pause (\(c.sandboxImage))"))
      } else {
        c.sandboxImage = v
      }
    }
    let snapshotterPath = version == 3 ? images + ["snapshotter"] : server + ["containerd", "snapshotter"]
    if let v = doc.take(snapshotterPath)?.string, !v.isEmpty {
      switch v {
      case "overlayfs": c.snapshotter = .overlayfs
      case "native": c.snapshotter = .native
      default: warnings.append(doc.note(snapshotterPath, "snapshotter \(tomlQuoted(v)) is not supported; using \"auto\""))
      }
    }
    if let v = doc.take(images + ["max_concurrent_downloads"])?.int, v > 0 { c.maxConcurrentDownloads = v }
    if let v = doc.take(images + ["image_pull_progress_timeout"])?.string, let span = TimeSpan(parsing: v), span.nanoseconds > 0 {
      c.imagePullProgressTimeout = span
    }
    try importRegistry(&doc, images + ["registry"], into: &c.registry, warnings: &warnings)
  }

  /// Log lines, oom restriction, cgroup driver, runtime handlers and CNI.
  private static func importRuntime(_ doc: inout FlatDocument, _ paths: SectionPaths, into c: inout CrispConfig, warnings: inout [String]) {
    let (server, runtime) = (paths.server, paths.runtime)
    if let v = doc.take(runtime + ["max_container_log_line_size"])?.int {
      if v > 0 {
        c.maxContainerLogLineSize = v
      } else if v < 0 {
        warnings.append(
          doc.note(runtime + ["max_container_log_line_size"], "unlimited log lines are not supported; using \(c.maxContainerLogLineSize)"))
      }
    }
    if let v = doc.take(runtime + ["restrict_oom_score_adj"])?.bool { c.restrictOOMScoreAdj = v }
    if doc.take(server + ["systemd_cgroup"])?.bool == true { c.cgroupDriver = .systemd }
    importRuntimes(&doc, runtime + ["containerd"], into: &c, warnings: &warnings)
    importCDI(&doc, runtime, into: &c)
    let cni = runtime + ["cni"]
    if let dirs = doc.take(cni + ["bin_dirs"])?.array {
      let list = dirs.compactMap { $0.tomlValue.string }
      if !list.isEmpty { c.cni.binDirs = list }
    }
    if let dir = doc.take(cni + ["bin_dir"])?.string, !dir.isEmpty { c.cni.binDirs = [dir] }
    if let v = doc.take(cni + ["conf_dir"])?.string, !v.isEmpty { c.cni.confDir = v }
    if let v = doc.take(cni + ["max_conf_num"])?.int, v > 0 { c.cni.maxConfNum = v }
    if let v = doc.take(cni + ["conf_template"])?.string { c.cni.confTemplate = v }
    // containerd keeps ip_pref at the CRI plugin level.
    if let v = doc.take(server + ["ip_pref"])?.string, let pref = CrispConfig.CNI.IPPreference(rawValue: v) { c.cni.ipPref = pref }
  }

  /// The streaming server: address, port, idle timeout, TLS.
  private static func importStreaming(_ doc: inout FlatDocument, _ paths: SectionPaths, into c: inout CrispConfig, warnings: inout [String]) {
    let server = paths.server
    if let v = doc.take(server + ["stream_server_address"])?.string, !v.isEmpty { c.streaming.address = v }
    if let port = doc.take(server + ["stream_server_port"]) {
      if let p = port.int ?? port.string.flatMap({ Int($0) }), (0...65535).contains(p) { c.streaming.port = p }
    }
    if let v = doc.take(server + ["stream_idle_timeout"])?.string, let span = TimeSpan(parsing: v), span.nanoseconds > 0 {
      c.streaming.idleTimeout = span
    }
    if doc.take(server + ["enable_tls_streaming"])?.bool == true {
      let cert = doc.take(server + ["x509_key_pair_streaming", "tls_cert_file"])?.string ?? ""
      let key = doc.take(server + ["x509_key_pair_streaming", "tls_key_file"])?.string ?? ""
      if cert.isEmpty || key.isEmpty {
        warnings.append(
          doc.note(
            server + ["enable_tls_streaming"],
            "TLS streaming without a configured key pair (containerd self-signs) is not supported; streaming stays plain HTTP"))
      } else {
        c.streaming.tlsCertFile = cert
        c.streaming.tlsKeyFile = key
      }
    }
  }

  private static func importRegistry(
    _ doc: inout FlatDocument, _ base: [String], into r: inout CrispConfig.Registry, warnings: inout [String]
  ) throws(ConfigError) {
    let configPath = doc.take(base + ["config_path"])?.string ?? ""
    for host in doc.childKeys(base + ["mirrors"]) {
      let endpoints = doc.take(base + ["mirrors", host, "endpoint"])?.array?.compactMap { $0.tomlValue.string } ?? []
      if !endpoints.isEmpty { r.mirrors[host] = .init(endpoints: endpoints) }
    }
    if !r.mirrors.isEmpty && !configPath.isEmpty {
      throw ConfigError(
        key: dotted(base + ["mirrors"]), line: doc.line(base + ["mirrors"]),
        message: "registry.mirrors and registry.config_path are both set; containerd refuses this too", source: doc.source)
    }
    r.configPath = r.mirrors.isEmpty ? (configPath.isEmpty ? CrispConfig.Registry().configPath : configPath) : ""
    for host in doc.childKeys(base + ["configs"]) {
      let h = base + ["configs", host]
      var config = CrispConfig.Registry.HostConfig()
      if doc.has(h + ["auth"]) {
        config.auth = .init(
          username: doc.take(h + ["auth", "username"])?.string ?? "",
          password: doc.take(h + ["auth", "password"])?.string ?? "",
          auth: doc.take(h + ["auth", "auth"])?.string ?? "",
          identityToken: doc.take(h + ["auth", "identitytoken"])?.string ?? "")
      }
      if doc.has(h + ["tls"]) {
        config.tls = .init(
          caFile: doc.take(h + ["tls", "ca_file"])?.string ?? "",
          certFile: doc.take(h + ["tls", "cert_file"])?.string ?? "",
          keyFile: doc.take(h + ["tls", "key_file"])?.string ?? "",
          insecureSkipVerify: doc.take(h + ["tls", "insecure_skip_verify"])?.bool ?? false)
      }
      if config.auth != nil || config.tls != nil { r.configs[host] = config }
    }
    // The deprecated `auths` table is keyed by URL; crisp keys credentials by host.
    for key in doc.childKeys(base + ["auths"]) {
      let a = base + ["auths", key]
      var host = key
      for scheme in ["https://", "http://"] where host.hasPrefix(scheme) { host.removeFirst(scheme.count) }
      while host.hasSuffix("/") { host.removeLast() }
      var config = r.configs[host] ?? .init()
      config.auth = .init(
        username: doc.take(a + ["username"])?.string ?? "",
        password: doc.take(a + ["password"])?.string ?? "",
        auth: doc.take(a + ["auth"])?.string ?? "",
        identityToken: doc.take(a + ["identitytoken"])?.string ?? "")
      r.configs[host] = config
    }
  }

  /// containerd's `cdi_spec_dirs`, `enable_cdi` (false turns CDI off: no spec directories) and
  /// `device_ownership_from_security_context` (one switch for all of containerd's CRI; per handler in crisp,
  /// so every handler gets it).
  private static func importCDI(_ doc: inout FlatDocument, _ runtime: [String], into c: inout CrispConfig) {
    if let dirs = doc.take(runtime + ["cdi_spec_dirs"])?.array {
      var list: [String] = []
      for dir in dirs.compactMap({ $0.tomlValue.string }) where dir.hasPrefix("/") && !list.contains(dir) { list.append(dir) }
      c.cdi.specDirs = list
    }
    if doc.take(runtime + ["enable_cdi"])?.bool == false { c.cdi.specDirs = [] }
    if let owned = doc.take(runtime + ["device_ownership_from_security_context"])?.bool {
      for name in c.runtime.handlers.keys { c.runtime.handlers[name]?.deviceOwnershipFromSecurityContext = owned }
    }
  }

  private static func importRuntimes(_ doc: inout FlatDocument, _ base: [String], into c: inout CrispConfig, warnings: inout [String]) {
    let defaultName = doc.take(base + ["default_runtime_name"])?.string ?? "runc"
    var handlers: [String: CrispConfig.Runtime.Handler] = [:]
    for name in doc.childKeys(base + ["runtimes"]) {
      let r = base + ["runtimes", name]
      let type = doc.take(r + ["runtime_type"])?.string ?? "io.containerd.runc.v2"
      guard type == "io.containerd.runc.v2" || type == "io.containerd.runc.v1" else {
        warnings.append(
          doc.note(
            r + ["runtime_type"], "runtime \(tomlQuoted(name)) of type \(tomlQuoted(type)) has no crisp equivalent (only runc-compatible runtimes)"))
        doc.consumeAll(r)
        continue
      }
      var binary = doc.take(r + ["options", "BinaryName"])?.string ?? ""
      if binary.isEmpty { binary = name == "crun" ? "/usr/bin/crun" : "/usr/bin/runc" }
      if !binary.hasPrefix("/") { binary = "/usr/bin/" + binary }
      var handler = CrispConfig.Runtime.Handler(binary: binary)
      if let root = doc.take(r + ["options", "Root"])?.string { handler.root = root }
      if let systemd = doc.take(r + ["options", "SystemdCgroup"])?.bool {
        if systemd { c.cgroupDriver = .systemd }
        handler.systemdCgroup = systemd
      }
      for (key, keep) in [("pod_annotations", true), ("container_annotations", false)] {
        guard let list = doc.take(r + [key])?.array else { continue }
        let patterns = list.compactMap { $0.tomlValue.string }
        if (try? AnnotationPatterns(patterns)) == nil {
          warnings.append(doc.note(r + [key], "\(key) has a pattern that is not a valid glob; none imported"))
        } else if keep {
          handler.podAnnotations = patterns
        } else {
          handler.containerAnnotations = patterns
        }
      }
      guard name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") }) else {
        warnings.append(doc.note(r, "runtime name \(tomlQuoted(name)) is not a valid crisp handler name; skipped"))
        continue
      }
      handlers[name] = handler
    }
    if !handlers.isEmpty {
      // Keep crisp's own handlers available unless the containerd file redefined them.
      for (name, handler) in c.runtime.handlers where handlers[name] == nil { handlers[name] = handler }
      c.runtime.handlers = handlers
    }
    if c.runtime.handlers[defaultName] != nil {
      c.runtime.defaultHandler = defaultName
    } else {
      warnings.append(
        doc.note(base + ["default_runtime_name"], "default runtime \(tomlQuoted(defaultName)) is not a runc-compatible runtime; using \"runc\""))
    }
  }
}

/// Every leaf of a TOML document by key path, with a record of which ones were used.
private struct FlatDocument {
  private var leaves: [[String]: TOMLValue] = [:]
  private var taken: Set<[String]> = []
  private let context: ReadContext

  var source: String { context.source }

  init(_ table: TOMLTable, context: ReadContext) {
    self.context = context
    flatten(table, [])
  }

  private mutating func flatten(_ table: TOMLTable, _ path: [String]) {
    for key in table.keys {
      guard let value = table[key]?.tomlValue else { continue }
      if value.type == .table, let child = value.table, !child.isEmpty {
        flatten(child, path + [key])
      } else {
        leaves[path + [key]] = value
      }
    }
  }

  mutating func take(_ path: [String]) -> TOMLValue? {
    guard let value = leaves[path] else { return nil }
    taken.insert(path)
    return value
  }

  func has(_ prefix: [String]) -> Bool {
    leaves.keys.contains { $0.starts(with: prefix) }
  }

  /// The distinct keys directly under `prefix`, in file order.
  func childKeys(_ prefix: [String]) -> [String] {
    let keys = Set(leaves.keys.filter { $0.count > prefix.count && $0.starts(with: prefix) }.map { $0[prefix.count] })
    return keys.sorted { (line(prefix + [$0]) ?? .max, $0) < (line(prefix + [$1]) ?? .max, $1) }
  }

  mutating func consumeAll(_ prefix: [String]) {
    for key in leaves.keys where key.starts(with: prefix) { taken.insert(key) }
  }

  func line(_ path: [String]) -> Int? { context.line(of: path) }

  func note(_ path: [String], _ message: String) -> String {
    let location = line(path).map { "\(context.source):\($0)" } ?? context.source
    return "\(location): \(dotted(path)): \(message)"
  }

  /// Warnings for keys that carry a value and were not used. Keys left at an empty value (`""`, `0`,
  /// `false`, `[]`, `{}`), which containerd's generated configs are full of, mean nothing to lose.
  func leftovers() -> [String] {
    leaves.filter { !taken.contains($0.key) && !isEmptyValue($0.value) }
      .sorted { (line($0.key) ?? .max, dotted($0.key)) < (line($1.key) ?? .max, dotted($1.key)) }
      .map { note($0.key, "not used by crisp (value \(render($0.value)))") }
  }

  private func isEmptyValue(_ value: TOMLValue) -> Bool {
    switch value.type {
    case .string: return value.string?.isEmpty ?? true
    case .int: return value.int == 0
    case .bool: return value.bool == false
    case .array: return value.array?.isEmpty ?? true
    case .table: return value.table?.isEmpty ?? true
    case .double: return value.double == 0
    default: return false
    }
  }

  private func render(_ value: TOMLValue) -> String {
    if let s = value.string, value.type == .string { return tomlQuoted(s) }
    return value.debugDescription
  }
}
