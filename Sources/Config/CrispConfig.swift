import CrispCore

/// crisp's whole configuration, as loaded from `/etc/crisp/config.toml` with defaults filled in.
///
/// Field names follow the TOML keys (in snake_case there). Every field has a default, so an empty file (or no
/// file) is a working configuration; `crisp config default` renders exactly these defaults.
public struct CrispConfig: Sendable, Equatable, Encodable {
  /// Persistent data: database, content store, snapshots.
  public var root: String = "/var/lib/crisp"
  /// Runtime data lost on reboot: sockets, network namespaces, container state.
  public var state: String = "/run/crisp"
  /// The daemon's own `oom_score_adj`.
  public var oomScore: Int = -999
  /// Containers and shims may not get an `oom_score_adj` below the daemon's own.
  public var restrictOOMScoreAdj: Bool = false
  public var cgroupDriver: CgroupDriver = .auto
  /// The image every pod sandbox runs (its pause container).
  public var sandboxImage: String = CrispConfig.builtinSandboxImage
  /// Images that kubelet must never garbage-collect.
  public var pinnedImages: [String] = []
  public var snapshotter: Snapshotter = .auto
  public var maxConcurrentDownloads: Int = 3
  /// A pull that receives no bytes for this long is cancelled.
  public var imagePullProgressTimeout: TimeSpan = .seconds(60)
  /// Longer container output lines are split into partial (`P`) CRI log records.
  public var maxContainerLogLineSize: Int = 16 * 1024

  public var grpc = GRPC()
  public var log = Log()
  public var cni = CNI()
  public var cdi = CDI()
  public var registry = Registry()
  public var runtime = Runtime()
  public var streaming = Streaming()
  public var metrics = Metrics()
  public var tracing = Tracing()

  public init() {}

  /// The name of the pause image crisp builds itself, so a node needs no registry to run pods.
  public static let builtinSandboxImage = "registry.k8s.io/pause:3.10"

  public enum CgroupDriver: String, Sendable, Equatable, Encodable, CaseIterable {
    /// `systemd` when PID 1 is systemd, else `cgroupfs`.
    case auto, cgroupfs, systemd
  }

  public enum Snapshotter: String, Sendable, Equatable, Encodable, CaseIterable {
    /// overlayfs when a test mount on the root filesystem works, else native.
    case auto, overlayfs, native
  }

  public struct GRPC: Sendable, Equatable, Encodable {
    /// Path of the CRI socket kubelet connects to.
    public var address: String = "/run/crisp/crisp.sock"
    /// Group (name or numeric id) owning the socket; empty means root's group.
    public var group: String = ""
    public init() {}
  }

  public struct Log: Sendable, Equatable, Encodable {
    public var level: Level = .info
    public var format: Format = .text
    public init() {}

    public enum Level: String, Sendable, Equatable, Encodable, CaseIterable {
      case trace, debug, info, notice, warning, error, critical
    }
    public enum Format: String, Sendable, Equatable, Encodable, CaseIterable {
      case text, json
    }
  }

  public struct CNI: Sendable, Equatable, Encodable {
    /// Directories searched, in order, for CNI plugin executables.
    public var binDirs: [String] = ["/opt/cni/bin"]
    /// Where network configurations (`.conflist`, `.conf`, `.json`) are read from.
    public var confDir: String = "/etc/cni/net.d"
    /// How many valid configurations (in lexical file order) are used.
    public var maxConfNum: Int = 1
    /// A template rendered into `conf_dir` when kubelet sets the pod CIDR; empty disables it.
    public var confTemplate: String = ""
    /// How long one plugin invocation may take before it is killed and the call fails.
    public var pluginTimeout: TimeSpan = .seconds(60)
    /// Which address of `eth0` becomes the pod's primary IP.
    public var ipPref: IPPreference = .ipv4
    /// Where network namespaces are pinned; empty means `<state>/netns/<sandbox id>`. Any other directory
    /// (e.g. `/var/run/netns`, where `ip netns` looks) gets `cni-<uuid>` files, as containerd names them.
    public var netnsDir: String = ""
    public init() {}

    public enum IPPreference: String, Sendable, Equatable, Encodable, CaseIterable {
      /// The first IPv4 address, else the first address.
      case ipv4
      /// The first IPv6 address, else the first address.
      case ipv6
      /// The first address in the plugin's result.
      case cni
    }
  }

  /// Container Device Interface: vendor spec files describing devices pods may ask for by name.
  public struct CDI: Sendable, Equatable, Encodable {
    /// Directories of CDI spec files (`.json`, `.yaml`), watched for changes. A device defined in a later
    /// directory overrides one of the same name in an earlier directory, as the CDI spec orders them.
    public var specDirs: [String] = ["/etc/cdi", "/var/run/cdi"]
    public init() {}
  }

  public struct Registry: Sendable, Equatable, Encodable {
    /// `:`-separated directories of containerd-style `hosts.toml` files, searched in order.
    public var configPath: String = "/etc/crisp/certs.d:/etc/containerd/certs.d"
    /// Inline mirrors, keyed by registry host (containerd's older form).
    public var mirrors: [String: Mirror] = [:]
    /// Per-host credentials and TLS settings, keyed by registry host.
    public var configs: [String: HostConfig] = [:]
    public init() {}

    public struct Mirror: Sendable, Equatable, Encodable {
      public var endpoints: [String] = []
      public init(endpoints: [String] = []) { self.endpoints = endpoints }
    }

    public struct HostConfig: Sendable, Equatable, Encodable {
      public var auth: Auth?
      public var tls: TLS?
      public init(auth: Auth? = nil, tls: TLS? = nil) {
        self.auth = auth
        self.tls = tls
      }
    }

    /// Registry credentials. Never logged; redacted wherever the configuration is shown.
    public struct Auth: Sendable, Equatable, Encodable {
      public var username: String = ""
      public var password: String = ""
      /// base64 of `username:password`, as in a docker config.
      public var auth: String = ""
      public var identityToken: String = ""
      public init(username: String = "", password: String = "", auth: String = "", identityToken: String = "") {
        self.username = username
        self.password = password
        self.auth = auth
        self.identityToken = identityToken
      }
    }

    public struct TLS: Sendable, Equatable, Encodable {
      public var caFile: String = ""
      public var certFile: String = ""
      public var keyFile: String = ""
      public var insecureSkipVerify: Bool = false
      public init(caFile: String = "", certFile: String = "", keyFile: String = "", insecureSkipVerify: Bool = false) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.insecureSkipVerify = insecureSkipVerify
      }
    }
  }

  public struct Runtime: Sendable, Equatable, Encodable {
    /// The handler used when a pod names none.
    public var defaultHandler: String = "runc"
    public var handlers: [String: Handler] = [
      "runc": Handler(binary: "/usr/bin/runc"),
      "crun": Handler(binary: "/usr/bin/crun"),
    ]
    public init() {}

    /// One OCI runtime that pods can select by CRI `runtime_handler`.
    public struct Handler: Sendable, Equatable, Encodable {
      public var binary: String
      /// The runtime's `--root`; empty means `<state>/runtime/<handler name>`.
      public var root: String = ""
      /// Pass `--systemd-cgroup`; when unset it follows the effective cgroup driver.
      public var systemdCgroup: Bool? = nil
      /// Pod annotations (glob patterns, as containerd's `pod_annotations`) copied into the sandbox's and
      /// its containers' OCI specs. Empty passes none: the runtime acts on some annotations.
      public var podAnnotations: [String] = []
      /// Container annotations (glob patterns, as containerd's `container_annotations`) copied into the
      /// container's OCI spec. Empty passes none.
      public var containerAnnotations: [String] = []
      /// Device nodes (CRI `devices`, CDI devices, a privileged container's host devices) are owned by the
      /// container's user and group instead of the host node's owner, as containerd's
      /// `device_ownership_from_security_context`: a non-root container can then open them.
      public var deviceOwnershipFromSecurityContext: Bool = false
      public init(
        binary: String, root: String = "", systemdCgroup: Bool? = nil, podAnnotations: [String] = [], containerAnnotations: [String] = [],
        deviceOwnershipFromSecurityContext: Bool = false
      ) {
        self.deviceOwnershipFromSecurityContext = deviceOwnershipFromSecurityContext
        self.binary = binary
        self.root = root
        self.systemdCgroup = systemdCgroup
        self.podAnnotations = podAnnotations
        self.containerAnnotations = containerAnnotations
      }

      /// `podAnnotations` compiled (validated when the config was loaded, so a bad one here passes none).
      public var podAnnotationPatterns: AnnotationPatterns { (try? AnnotationPatterns(podAnnotations)) ?? .none }
      /// `containerAnnotations` compiled.
      public var containerAnnotationPatterns: AnnotationPatterns { (try? AnnotationPatterns(containerAnnotations)) ?? .none }
    }
  }

  public struct Metrics: Sendable, Equatable, Encodable {
    /// `host:port` of the Prometheus endpoint (`GET /metrics`); empty turns it off.
    public var address: String = ""
    public init() {}
  }

  /// OpenTelemetry spans for every CRI call, exported over OTLP. Off unless `endpoint` is set: then no
  /// tracer is installed and calls pay nothing for it.
  public struct Tracing: Sendable, Equatable, Encodable {
    /// How spans reach the collector (OTLP's own names for its transports).
    public enum ExportProtocol: String, Sendable, Equatable, Encodable, CaseIterable {
      case grpc
      case httpProtobuf = "http/protobuf"
    }

    /// The OTLP collector's URL (`http://127.0.0.1:4317` for gRPC, `http://127.0.0.1:4318` or a full
    /// `…/v1/traces` URL for HTTP); empty turns tracing off.
    public var endpoint: String = ""
    public var exportProtocol: ExportProtocol = .grpc
    /// The share of new traces recorded, 0.0 to 1.0; a call whose caller (kubelet) sent a `traceparent`
    /// follows the caller's decision instead.
    public var samplingRatio: Double = 1.0
    /// `service.name` of the exported spans.
    public var serviceName: String = "crisp"
    public init() {}

    /// Whether tracing is on at all.
    public var enabled: Bool { !endpoint.isEmpty }

    /// Where spans are sent: the endpoint as written, except that an HTTP endpoint with no path gets OTLP's
    /// `/v1/traces`, so `http://collector:4318` works as it does for other OTLP exporters.
    public var exportURL: String {
      guard exportProtocol == .httpProtobuf, let rest = Self.afterScheme(endpoint) else { return endpoint }
      let path = rest.firstIndex(of: "/").map { rest[$0...] } ?? ""
      guard path.isEmpty || path == "/" else { return endpoint }
      return (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + "/v1/traces"
    }

    /// An `http://` or `https://` URL naming a host: the only endpoints the OTLP exporters accept.
    static func isEndpointURL(_ text: String) -> Bool {
      guard let rest = afterScheme(text), text.utf8.count <= 2048 else { return false }
      let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
      return !authority.isEmpty && !authority.hasPrefix(":") && !authority.contains(where: { $0 == " " || $0 == "@" })
    }

    private static func afterScheme(_ text: String) -> Substring? {
      for scheme in ["http://", "https://"] where text.hasPrefix(scheme) { return text.dropFirst(scheme.count) }
      return nil
    }
  }

  public struct Streaming: Sendable, Equatable, Encodable {
    /// Address the exec/attach/port-forward server listens on.
    public var address: String = "127.0.0.1"
    /// 0 picks a free port at start-up.
    public var port: Int = 0
    /// An upgraded stream with no traffic for this long is closed.
    public var idleTimeout: TimeSpan = .seconds(4 * 3600)
    /// A client that has not opened every stream its session needs within this long is disconnected.
    public var streamCreationTimeout: TimeSpan = .seconds(30)
    /// PEM certificate and key; both empty means plain HTTP.
    public var tlsCertFile: String = ""
    public var tlsKeyFile: String = ""
    public init() {}
  }
}

extension CrispConfig {
  /// Applies the command-line overrides the daemon accepts (like containerd's `--root`, `--state`,
  /// `--address`, `--log-level`). The socket follows `--state` unless it was set on its own.
  public func overriding(
    root: String? = nil, state: String? = nil, address: String? = nil, logLevel: Log.Level? = nil
  ) -> CrispConfig {
    var copy = self
    if let root { copy.root = root }
    if let state {
      if address == nil && copy.grpc.address == CrispConfig().grpc.address {
        copy.grpc.address = FilePath.join(state, "crisp.sock")
      }
      copy.state = state
    }
    if let address { copy.grpc.address = address }
    if let logLevel { copy.log.level = logLevel }
    return copy
  }

  /// The same configuration with every credential replaced, for `Status` verbose output and logs.
  public var redacted: CrispConfig {
    var copy = self
    for (host, var config) in copy.registry.configs {
      if var auth = config.auth {
        if !auth.password.isEmpty { auth.password = "<redacted>" }
        if !auth.auth.isEmpty { auth.auth = "<redacted>" }
        if !auth.identityToken.isEmpty { auth.identityToken = "<redacted>" }
        config.auth = auth
      }
      copy.registry.configs[host] = config
    }
    return copy
  }
}
