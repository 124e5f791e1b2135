import CrispCore
#if canImport(Glibc)
import Glibc
#endif

/// Turns TOML text into a ``CrispConfig``: every key known, every type checked, every value validated.
///
/// Unknown keys are errors, not warnings: a misspelt key that is silently ignored is how a node ends up
/// pulling from the wrong registry.
public enum ConfigLoader {
  /// The file the daemon reads when `--config` is not given.
  public static let defaultPath = "/etc/crisp/config.toml"

  /// The largest configuration file read (main file or one drop-in).
  public static let maximumFileSize = 4 << 20
  /// The most bytes read for one configuration, main file and drop-ins together.
  public static let maximumTotalSize = 16 << 20

  /// Loads `path` merged with its drop-ins (``ConfigDropIns``). A missing main file at the default path, or
  /// one whose drop-ins exist, means built-in defaults under the drop-ins; a missing file that was asked for
  /// explicitly, with no drop-ins, is an error.
  public static func load(path: String, required: Bool) throws(ConfigError) -> CrispConfig {
    try loadWithSources(path: path, required: required).config
  }

  /// ``load(path:required:)`` with the files read and the file each value came from.
  public static func loadWithSources(path: String, required: Bool) throws(ConfigError) -> LoadedConfig {
    var total = 0
    var documents: [(source: String, text: String)] = []
    if let text = try readFile(path, total: &total) { documents.append((path, text)) }
    let mainExists = !documents.isEmpty
    for dropIn in try ConfigDropIns.files(in: ConfigDropIns.directory(forMainFile: path)) {
      // A drop-in removed between the listing and the read is simply no longer there.
      if let text = try readFile(dropIn, total: &total) { documents.append((dropIn, text)) }
    }
    if documents.isEmpty && required { throw ConfigError(key: "", line: nil, message: "no such file", source: path) }
    // Keys without a file are placed in the main file's name in messages even when it does not exist.
    if !mainExists { documents.insert((path, ""), at: 0) }
    var loaded = try parse(documents: documents)
    if !mainExists { loaded.files.removeFirst() }
    return loaded
  }

  /// Reads one file under the size caps; nil when it does not exist.
  private static func readFile(_ path: String, total: inout Int) throws(ConfigError) -> String? {
    let bytes: [UInt8]?
    do {
      bytes = try FilePath.readRegularFile(path, limit: maximumFileSize)
    } catch {
      if error.call == "not a regular file:" {
        throw ConfigError(
          key: "", line: nil, message: "not a regular file (a FIFO, device or directory cannot be a configuration file)", source: path)
      }
      if error.errno == EFBIG {
        throw ConfigError(key: "", line: nil, message: "larger than \(maximumFileSize >> 20) MiB, the limit for a configuration file", source: path)
      }
      throw ConfigError(key: "", line: nil, message: "cannot read: \(error)", source: path)
    }
    guard let bytes else { return nil }
    total += bytes.count
    guard total <= maximumTotalSize else {
      throw ConfigError(
        key: "", line: nil, message: "the configuration files together exceed \(maximumTotalSize >> 20) MiB (this file passes the limit)",
        source: path)
    }
    return try text(of: bytes, path: path)
  }

  /// The file's text. TOML is UTF-8 without NUL anywhere; toml++ would stop reading at a NUL (dropping the
  /// rest of the file unseen) and a lossy decoding would change values silently, so both are refused.
  public static func text(of bytes: [UInt8], path: String) throws(ConfigError) -> String {
    if let nul = bytes.firstIndex(of: 0) {
      let line = bytes[..<nul].reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
      throw ConfigError(key: "", line: line, message: "a NUL byte (TOML allows none)", source: path)
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw ConfigError(key: "", line: nil, message: "not valid UTF-8 (TOML files are UTF-8)", source: path)
    }
    return text
  }

  public static func parse(_ text: String, source: String = "config.toml") throws(ConfigError) -> CrispConfig {
    var reader = try parseTOML(text, source: source)
    var config = CrispConfig()
    try readTop(&reader, into: &config)
    try reader.finish()
    return config
  }

  /// Merges `documents` (the main file first, then the drop-ins in order) key by key and validates the
  /// result; an error names the file and line that set the offending key.
  public static func parse(documents: [(source: String, text: String)]) throws(ConfigError) -> LoadedConfig {
    let merged = try TOMLMerge.merge(documents)
    var reader = merged.reader
    var config = CrispConfig()
    try readTop(&reader, into: &config)
    try reader.finish()
    return LoadedConfig(config: config, files: documents.map(\.source), sources: merged.sources)
  }

  private static func readTop(_ r: inout TableReader, into c: inout CrispConfig) throws(ConfigError) {
    if let version = try r.int("version"), version != 1 {
      throw r.error("version", "crisp reads configuration version 1, found \(version)")
    }
    if let v = try r.string("root") { c.root = try absolutePath(v, "root", r) }
    if let v = try r.string("state") { c.state = try absolutePath(v, "state", r) }
    if let v = try r.int("oom_score") {
      guard (OOMScore.minimum...OOMScore.maximum).contains(v) else {
        throw r.error("oom_score", "must be between -1000 and 1000, found \(v)")
      }
      c.oomScore = v
    }
    if let v = try r.bool("restrict_oom_score_adj") { c.restrictOOMScoreAdj = v }
    if let v = try r.choice("cgroup_driver", CrispConfig.CgroupDriver.self) { c.cgroupDriver = v }
    if let v = try r.string("sandbox_image") {
      guard !v.isEmpty else { throw r.error("sandbox_image", "must not be empty") }
      c.sandboxImage = v
    }
    if let v = try r.stringArray("pinned_images") {
      if let index = v.firstIndex(where: \.isEmpty) { throw r.error("pinned_images", "element \(index) is empty") }
      c.pinnedImages = v
    }
    if let v = try r.choice("snapshotter", CrispConfig.Snapshotter.self) { c.snapshotter = v }
    if let v = try r.int("max_concurrent_downloads") {
      c.maxConcurrentDownloads = try positive(v, "max_concurrent_downloads", r)
    }
    if let v = try r.duration("image_pull_progress_timeout") { c.imagePullProgressTimeout = v }
    if let v = try r.int("max_container_log_line_size") {
      c.maxContainerLogLineSize = try positive(v, "max_container_log_line_size", r)
    }
    if var t = try r.table("grpc") { try readGRPC(&t, into: &c.grpc) }
    if var t = try r.table("log") { try readLog(&t, into: &c.log) }
    if var t = try r.table("cni") { try readCNI(&t, into: &c.cni) }
    if var t = try r.table("cdi") { try readCDI(&t, into: &c.cdi) }
    if var t = try r.table("registry") { try readRegistry(&t, into: &c.registry) }
    if var t = try r.table("runtime") { try readRuntime(&t, into: &c.runtime) }
    if var t = try r.table("streaming") { try readStreaming(&t, into: &c.streaming) }
    if var t = try r.table("metrics") { try readMetrics(&t, into: &c.metrics) }
    if var t = try r.table("tracing") { try readTracing(&t, into: &c.tracing) }
  }

  private static func readGRPC(_ t: inout TableReader, into section: inout CrispConfig.GRPC) throws(ConfigError) {
    if let v = try t.string("address") {
      section.address = try absolutePath(v, "address", t)
      guard v.utf8.count < 108 else { throw t.error("address", "a unix socket path must be shorter than 108 bytes") }
    }
    if let v = try t.string("group") { section.group = v }
    try t.finish()
  }

  private static func readLog(_ t: inout TableReader, into section: inout CrispConfig.Log) throws(ConfigError) {
    if let v = try t.choice("level", CrispConfig.Log.Level.self) { section.level = v }
    if let v = try t.choice("format", CrispConfig.Log.Format.self) { section.format = v }
    try t.finish()
  }

  private static func readCNI(_ t: inout TableReader, into section: inout CrispConfig.CNI) throws(ConfigError) {
    if let v = try t.stringArray("bin_dirs") {
      guard !v.isEmpty else { throw t.error("bin_dirs", "must name at least one directory") }
      for dir in v { _ = try absolutePath(dir, "bin_dirs", t) }
      section.binDirs = v
    }
    if let v = try t.string("conf_dir") { section.confDir = try absolutePath(v, "conf_dir", t) }
    if let v = try t.int("max_conf_num") { section.maxConfNum = try positive(v, "max_conf_num", t) }
    if let v = try t.string("conf_template") {
      if !v.isEmpty { _ = try absolutePath(v, "conf_template", t) }
      section.confTemplate = v
    }
    if let v = try t.duration("plugin_timeout") {
      guard v.nanoseconds > 0 else { throw t.error("plugin_timeout", "must be positive") }
      section.pluginTimeout = v
    }
    if let v = try t.choice("ip_pref", CrispConfig.CNI.IPPreference.self) { section.ipPref = v }
    if let v = try t.string("netns_dir") {
      if !v.isEmpty { _ = try absolutePath(v, "netns_dir", t) }
      section.netnsDir = v
    }
    try t.finish()
  }

  private static func readCDI(_ t: inout TableReader, into section: inout CrispConfig.CDI) throws(ConfigError) {
    if let v = try t.stringArray("spec_dirs") {
      for dir in v { _ = try absolutePath(dir, "spec_dirs", t) }
      if let duplicate = v.enumerated().first(where: { v[..<$0.offset].contains($0.element) }) {
        throw t.error("spec_dirs", "\(tomlQuoted(duplicate.element)) is listed twice")
      }
      section.specDirs = v
    }
    try t.finish()
  }

  private static func readStreaming(_ t: inout TableReader, into section: inout CrispConfig.Streaming) throws(ConfigError) {
    if let v = try t.string("address") {
      guard !v.isEmpty else { throw t.error("address", "must not be empty") }
      section.address = v
    }
    if let v = try t.int("port") {
      guard (0...65535).contains(v) else { throw t.error("port", "must be between 0 and 65535, found \(v)") }
      section.port = v
    }
    if let v = try t.duration("idle_timeout") {
      guard v.nanoseconds > 0 else { throw t.error("idle_timeout", "must be longer than 0s") }
      section.idleTimeout = v
    }
    if let v = try t.duration("stream_creation_timeout") {
      guard v.nanoseconds > 0 else { throw t.error("stream_creation_timeout", "must be longer than 0s") }
      section.streamCreationTimeout = v
    }
    if let v = try t.string("tls_cert_file") { section.tlsCertFile = v }
    if let v = try t.string("tls_key_file") { section.tlsKeyFile = v }
    if section.tlsCertFile.isEmpty != section.tlsKeyFile.isEmpty {
      throw t.error(section.tlsCertFile.isEmpty ? "tls_cert_file" : "tls_key_file", "tls_cert_file and tls_key_file go together")
    }
    try t.finish()
  }

  private static func readMetrics(_ t: inout TableReader, into section: inout CrispConfig.Metrics) throws(ConfigError) {
    if let v = try t.string("address") {
      if !v.isEmpty {
        guard let colon = v.lastIndex(of: ":"), let port = Int(v[v.index(after: colon)...]), (1...65535).contains(port),
          colon != v.startIndex
        else { throw t.error("address", "must be host:port (e.g. 127.0.0.1:1338) or empty, found \"\(v)\"") }
      }
      section.address = v
    }
    try t.finish()
  }

  private static func readTracing(_ t: inout TableReader, into section: inout CrispConfig.Tracing) throws(ConfigError) {
    if let v = try t.string("endpoint") {
      if !v.isEmpty, !CrispConfig.Tracing.isEndpointURL(v) {
        throw t.error("endpoint", "must be an http:// or https:// URL with a host (e.g. \"http://127.0.0.1:4317\") or empty, found \(tomlQuoted(v))")
      }
      section.endpoint = v
    }
    if let v = try t.choice("protocol", CrispConfig.Tracing.ExportProtocol.self) { section.exportProtocol = v }
    if let v = try t.number("sampling_ratio") {
      guard v >= 0, v <= 1 else { throw t.error("sampling_ratio", "must be between 0.0 and 1.0, found \(v)") }
      section.samplingRatio = v
    }
    if let v = try t.string("service_name") {
      guard !v.isEmpty else { throw t.error("service_name", "must not be empty") }
      section.serviceName = v
    }
    try t.finish()
  }

  private static func readRegistry(_ t: inout TableReader, into registry: inout CrispConfig.Registry) throws(ConfigError) {
    let explicitConfigPath = try t.string("config_path")
    if let explicitConfigPath { registry.configPath = explicitConfigPath }
    if var mirrors = try t.table("mirrors") {
      for host in mirrors.keysInFileOrder {
        guard var m = try mirrors.table(host) else { continue }
        let endpoints = try m.stringArray("endpoint") ?? []
        for endpoint in endpoints where !(endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://")) {
          throw m.error("endpoint", "\(tomlQuoted(endpoint)) must start with http:// or https://")
        }
        try m.finish()
        registry.mirrors[host] = .init(endpoints: endpoints)
      }
      try mirrors.finish()
      if !registry.mirrors.isEmpty {
        if let explicitConfigPath, !explicitConfigPath.isEmpty {
          throw t.error("mirrors", "cannot be set together with registry.config_path (use one form: hosts.toml directories or inline mirrors)")
        }
        // The inline form is in use: hosts.toml directories are not consulted (containerd's rule).
        registry.configPath = ""
      }
    }
    if var configs = try t.table("configs") {
      for host in configs.keysInFileOrder {
        guard var h = try configs.table(host) else { continue }
        var hostConfig = CrispConfig.Registry.HostConfig()
        if var a = try h.table("auth") {
          var auth = CrispConfig.Registry.Auth()
          if let v = try a.string("username") { auth.username = v }
          if let v = try a.string("password") { auth.password = v }
          if let v = try a.string("auth") { auth.auth = v }
          if let v = try a.string("identitytoken") { auth.identityToken = v }
          try a.finish()
          hostConfig.auth = auth
        }
        if var s = try h.table("tls") {
          var tls = CrispConfig.Registry.TLS()
          if let v = try s.string("ca_file") { tls.caFile = v }
          if let v = try s.string("cert_file") { tls.certFile = v }
          if let v = try s.string("key_file") { tls.keyFile = v }
          if let v = try s.bool("insecure_skip_verify") { tls.insecureSkipVerify = v }
          try s.finish()
          hostConfig.tls = tls
        }
        try h.finish()
        registry.configs[host] = hostConfig
      }
      try configs.finish()
    }
    try t.finish()
  }

  private static func readRuntime(_ t: inout TableReader, into runtime: inout CrispConfig.Runtime) throws(ConfigError) {
    if let v = try t.string("default_handler") { runtime.defaultHandler = v }
    if var handlers = try t.table("handlers") {
      // Handlers named in the main file replace the built-in pair; a drop-in naming a handler (a device
      // plugin's installer adding its runtime) adds it to whatever the main file has, defaults included.
      if t.context.mainFileMentions(["runtime", "handlers"]) { runtime.handlers = [:] }
      for name in handlers.keysInFileOrder {
        guard var h = try handlers.table(name) else { continue }
        guard name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") }), !name.isEmpty else {
          throw handlers.error(name, "a handler name uses lowercase letters, digits, '-' and '_'")
        }
        guard let binary = try h.string("binary") else { throw h.error("binary", "missing: each handler names its runtime binary") }
        var handler = CrispConfig.Runtime.Handler(binary: try absolutePath(binary, "binary", h))
        if let v = try h.string("root") {
          if !v.isEmpty { _ = try absolutePath(v, "root", h) }
          handler.root = v
        }
        handler.systemdCgroup = try h.bool("systemd_cgroup")
        if let v = try h.bool("device_ownership_from_security_context") { handler.deviceOwnershipFromSecurityContext = v }
        for key in ["pod_annotations", "container_annotations"] {
          guard let patterns = try h.stringArray(key) else { continue }
          do {
            _ = try AnnotationPatterns(patterns)
          } catch {
            throw h.error(key, "\(tomlQuoted(error.pattern)) is not a valid glob pattern (an unterminated '[', an empty class or a trailing '\\')")
          }
          if key == "pod_annotations" { handler.podAnnotations = patterns } else { handler.containerAnnotations = patterns }
        }
        try h.finish()
        runtime.handlers[name] = handler
      }
      try handlers.finish()
    }
    guard runtime.handlers[runtime.defaultHandler] != nil else {
      throw t.error(
        "default_handler",
        "\(tomlQuoted(runtime.defaultHandler)) is not one of the configured handlers (\(runtime.handlers.keys.sorted().joined(separator: ", ")))")
    }
    try t.finish()
  }

  private static func absolutePath(_ value: String, _ key: String, _ r: TableReader) throws(ConfigError) -> String {
    guard value.hasPrefix("/") else { throw r.error(key, "must be an absolute path, found \(tomlQuoted(value))") }
    return value
  }

  private static func positive(_ value: Int, _ key: String, _ r: TableReader) throws(ConfigError) -> Int {
    guard value > 0 else { throw r.error(key, "must be at least 1, found \(value)") }
    return value
  }
}
