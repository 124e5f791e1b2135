/// Every configuration key, and whether a reload (SIGHUP) applies it or only a restart does.
///
/// The rule for "restart only": the value is fixed into something built at start-up that cannot be swapped
/// under running pods and calls (paths under root and state, the sockets and listeners, the snapshotter, the
/// OCI runtime drivers, the CNI directory watch, the shim's settings). Keys that are read afresh by each pull,
/// plugin call or create are reloadable. A new reloadable group (e.g. CDI spec directories) is one entry
/// here plus one applier in the daemon's reloader.
public enum ReloadKeys {
  public static let all: [ReloadKey] = topLevel + sections + handlers

  private static let topLevel: [ReloadKey] = [
    ReloadKey("root", nil, \.root),
    ReloadKey("state", nil, \.state),
    ReloadKey("oom_score", nil, \.oomScore),
    ReloadKey("restrict_oom_score_adj", nil, \.restrictOOMScoreAdj),
    ReloadKey("cgroup_driver", nil, \.cgroupDriver) { $0.rawValue },
    ReloadKey("sandbox_image", nil, \.sandboxImage),
    ReloadKey("pinned_images", nil, \.pinnedImages),
    ReloadKey("snapshotter", nil, \.snapshotter) { $0.rawValue },
    ReloadKey("max_concurrent_downloads", nil, \.maxConcurrentDownloads),
    ReloadKey("image_pull_progress_timeout", .imagePull, \.imagePullProgressTimeout) { $0.description },
    ReloadKey("max_container_log_line_size", nil, \.maxContainerLogLineSize),
  ]

  private static let sections: [ReloadKey] = [
    ReloadKey("grpc.address", nil, \.grpc.address),
    ReloadKey("grpc.group", nil, \.grpc.group),
    ReloadKey("log.level", .logLevel, \.log.level) { $0.rawValue },
    ReloadKey("log.format", nil, \.log.format) { $0.rawValue },
    ReloadKey("cni.bin_dirs", .cni, \.cni.binDirs),
    ReloadKey("cni.conf_dir", nil, \.cni.confDir),
    ReloadKey("cni.max_conf_num", nil, \.cni.maxConfNum),
    ReloadKey("cni.conf_template", nil, \.cni.confTemplate),
    ReloadKey("cni.plugin_timeout", .cni, \.cni.pluginTimeout) { $0.description },
    ReloadKey("cni.ip_pref", .cni, \.cni.ipPref) { $0.rawValue },
    ReloadKey("cni.netns_dir", nil, \.cni.netnsDir),
    ReloadKey("registry.config_path", .registry, \.registry.configPath),
    ReloadKey("registry.mirrors", .registry, \.registry.mirrors) { mirrors in
      mirrors.keys.sorted().map { "\($0)=\(mirrors[$0]?.endpoints ?? [])" }.joined(separator: " ")
    },
    // Credentials are never logged: only the hosts configured.
    ReloadKey("registry.configs", .registry, \.registry.configs) { $0.keys.sorted().joined(separator: ",") },
    ReloadKey("streaming.address", nil, \.streaming.address),
    ReloadKey("streaming.port", nil, \.streaming.port),
    ReloadKey("streaming.idle_timeout", nil, \.streaming.idleTimeout) { $0.description },
    ReloadKey("streaming.stream_creation_timeout", nil, \.streaming.streamCreationTimeout) { $0.description },
    ReloadKey("streaming.tls_cert_file", nil, \.streaming.tlsCertFile),
    ReloadKey("streaming.tls_key_file", nil, \.streaming.tlsKeyFile),
    ReloadKey("metrics.address", nil, \.metrics.address),
    // The tracer is installed once per process (swift-distributed-tracing allows one bootstrap).
    ReloadKey("tracing.endpoint", nil, \.tracing.endpoint),
    ReloadKey("tracing.protocol", nil, \.tracing.exportProtocol) { $0.rawValue },
    ReloadKey("tracing.sampling_ratio", nil, \.tracing.samplingRatio),
    ReloadKey("tracing.service_name", nil, \.tracing.serviceName),
    ReloadKey("runtime.default_handler", nil, \.runtime.defaultHandler),
    ReloadKey("cdi.spec_dirs", .cdi, \.cdi.specDirs),
  ]

  /// A handler's allow-lists reload; which handlers exist and how each runs its runtime do not (the OCI
  /// runtime drivers are probed and built at start-up).
  private static let handlers: [ReloadKey] = [
    ReloadKey(
      "runtime.handlers", nil,
      differs: { withoutAnnotations($0.runtime.handlers) != withoutAnnotations($1.runtime.handlers) },
      copy: { target, source in
        var handlers = source.runtime.handlers
        // Each kept handler keeps the allow-lists already in `target` (they belong to the other key).
        for (name, handler) in target.runtime.handlers where handlers[name] != nil {
          handlers[name]?.podAnnotations = handler.podAnnotations
          handlers[name]?.containerAnnotations = handler.containerAnnotations
        }
        target.runtime.handlers = handlers
      },
      show: { config in
        config.runtime.handlers.keys.sorted().map { name in
          let handler = config.runtime.handlers[name]
          return "\(name)=\(handler?.binary ?? "")"
        }.joined(separator: ",")
      }),
    ReloadKey(
      "runtime.handlers.*.pod_annotations", .annotations,
      differs: { old, new in
        new.runtime.handlers.contains { name, handler in
          old.runtime.handlers[name].map { $0.podAnnotations != handler.podAnnotations } ?? false
        }
      },
      copy: { target, source in
        for (name, handler) in source.runtime.handlers where target.runtime.handlers[name] != nil {
          target.runtime.handlers[name]?.podAnnotations = handler.podAnnotations
        }
      },
      show: { config in annotationLists(config) { $0.podAnnotations } }),
    ReloadKey(
      "runtime.handlers.*.container_annotations", .annotations,
      differs: { old, new in
        new.runtime.handlers.contains { name, handler in
          old.runtime.handlers[name].map { $0.containerAnnotations != handler.containerAnnotations } ?? false
        }
      },
      copy: { target, source in
        for (name, handler) in source.runtime.handlers where target.runtime.handlers[name] != nil {
          target.runtime.handlers[name]?.containerAnnotations = handler.containerAnnotations
        }
      },
      show: { config in annotationLists(config) { $0.containerAnnotations } }),
  ]

  private static func withoutAnnotations(_ handlers: [String: CrispConfig.Runtime.Handler]) -> [String: CrispConfig.Runtime.Handler] {
    handlers.mapValues { handler in
      var copy = handler
      copy.podAnnotations = []
      copy.containerAnnotations = []
      return copy
    }
  }

  private static func annotationLists(_ config: CrispConfig, _ list: (CrispConfig.Runtime.Handler) -> [String]) -> String {
    config.runtime.handlers.keys.sorted().map { name in
      "\(name)=\(config.runtime.handlers[name].map(list) ?? [])"
    }.joined(separator: " ")
  }
}
