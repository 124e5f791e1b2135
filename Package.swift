// swift-tools-version:6.1
// crisp: a Kubernetes CRI runtime. The module graph follows DESIGN (README "Architecture"): a module imports
// only modules listed below it there; executables only parse arguments and wire modules together.
import PackageDescription

let strict: [SwiftSetting] = [
  .swiftLanguageMode(.v6),
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
  name: "crisp",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "crisp", targets: ["crisp"]),
    .executable(name: "crispctl", targets: ["crispctl"]),
    .executable(name: "crisp-pause", targets: ["crisp-pause"]),
    .executable(name: "crisp-shim", targets: ["crisp-shim"]),
    .executable(name: "crisp-bench", targets: ["crisp-bench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/grpc/grpc-swift-2", exact: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport", exact: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
    .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
    .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
    .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
    .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
    .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
    .package(url: "https://github.com/apple/swift-nio-http2", exact: "1.46.0"),
    .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    .package(url: "https://github.com/jpsim/Yams", exact: "5.0.1"),
    .package(url: "https://github.com/apple/swift-distributed-tracing", exact: "1.7.3"),
    // Only the OTLP exporters crisp offers (`tracing.protocol`): both traits are named so a default change
    // upstream cannot add or drop one.
    .package(url: "https://github.com/swift-otel/swift-otel", exact: "1.6.0", traits: ["OTLPHTTP", "OTLPGRPC"]),
  ],
  targets: [
    // Swift generated from proto/ by proto/generate.sh; never edited by hand.
    .target(
      name: "CRIAPI",
      dependencies: [
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
    // The bottom layer: the domain error, atomic file writes, and small kernel-facing helpers.
    // Tracing: child spans of a traced CRI call (``withChildSpan``), for every module above.
    .target(
      name: "CrispCore", dependencies: ["CLinux", .product(name: "Tracing", package: "swift-distributed-tracing")], swiftSettings: strict),
    // C: wrappers for Linux calls Swift's Glibc module lacks (openat2, xattrs, mounts, namespaces).
    .target(name: "CLinux"),
    // C: interface counters inside a pod's network namespace, through libnl-route (Debian's libnl-route-3-dev).
    .target(
      name: "CNetlink",
      cSettings: [.unsafeFlags(["-I/usr/include/libnl3"])],
      linkerSettings: [.linkedLibrary("nl-route-3"), .linkedLibrary("nl-3")]
    ),
    // C: system call names checked against libseccomp (Debian's libseccomp-dev).
    .target(name: "CSeccomp", linkerSettings: [.linkedLibrary("seccomp")]),
    .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
    .systemLibrary(name: "CZstd", providers: [.apt(["libzstd-dev"])]),
    .target(
      name: "Config",
      dependencies: ["CrispCore", .product(name: "TOMLKit", package: "TOMLKit")],
      swiftSettings: strict
    ),
    .target(
      name: "Store",
      dependencies: [
        "CrispCore", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto"),
      ],
      swiftSettings: strict
    ),
    // The OCI image and runtime specs as data: manifests, indexes, image configs, the runtime's config.json,
    // and the parser that checks them. Below Registry (which fetches them) and Runtime (which writes specs).
    .target(name: "OCI", dependencies: ["CrispCore"], swiftSettings: strict),
    // Container Device Interface: vendor spec files (JSON, YAML) read, checked and watched, device names
    // resolved into edits of an OCI spec. Below Runtime, which applies them at CreateContainer.
    .target(
      name: "CDI",
      dependencies: ["CrispCore", "OCI", .product(name: "Yams", package: "Yams"), .product(name: "Logging", package: "swift-log")],
      swiftSettings: strict
    ),
    .target(
      name: "Registry",
      dependencies: [
        "CrispCore", "Config", "OCI", "Store",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "Images",
      dependencies: [
        "CrispCore", "CLinux", "CZlib", "CZstd", "Config", "OCI", "Store", "Registry",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
        .product(name: "Metrics", package: "swift-metrics"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "PodNetwork",
      dependencies: [
        "CrispCore", "CLinux", "CNetlink", "Config", .product(name: "Logging", package: "swift-log"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "Runtime",
      dependencies: [
        "CrispCore", "CLinux", "CSeccomp", "Config", "OCI", "CDI", "Store", "Images", "PodNetwork",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
      ],
      swiftSettings: strict
    ),
    // SPDY/3.1 framing (zlib header compression) and a small blocking client: shared by the streaming
    // server, crisp-bench and tests.
    .target(name: "SPDY", dependencies: ["CZlib"], swiftSettings: strict),
    .target(
      name: "Streaming",
      dependencies: [
        "CrispCore", "CLinux", "SPDY", "Config", "Runtime",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOWebSocket", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "CRIServer",
      dependencies: [
        "CRIAPI", "CrispCore", "Config", "CDI", "Store", "PodNetwork", "Registry", "Images", "Runtime", "Streaming",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
        .product(name: "OTel", package: "swift-otel"),
      ],
      swiftSettings: strict
    ),
    // `crisp check`: the read-only node preflight (kernel, cgroups, runtimes, CNI, registries, storage,
    // privileges), reusing the daemon's own probes and loaders.
    .target(
      name: "Preflight",
      dependencies: ["Config", "CrispCore", "Images", "PodNetwork", "Registry", "Runtime"],
      swiftSettings: strict
    ),
    // `config default|check|import-containerd`, shared by crisp and crispctl.
    .target(
      name: "ConfigCommands",
      dependencies: ["Config", "CrispCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
      swiftSettings: strict
    ),
    .executableTarget(
      name: "crisp",
      dependencies: [
        "CRIServer", "Config", "ConfigCommands", "CrispCore", "Preflight",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    // crisp-shim, one per container: Embedded Swift (no Foundation, whole-module, static) so each costs
    // about a megabyte of memory; CShim wraps the variadic and macro-only libc calls it needs.
    .target(name: "CShim"),
    .executableTarget(
      name: "crisp-shim",
      dependencies: ["CShim"],
      swiftSettings: [.enableExperimentalFeature("Embedded"), .unsafeFlags(["-wmo", "-Osize"])],
      linkerSettings: [.unsafeFlags(["-static-executable"])]
    ),
    // Measures crisp against another CRI runtime (deploy/bench.sh); prints numbers, asserts nothing.
    .executableTarget(
      name: "crisp-bench",
      dependencies: [
        "CRIAPI", "CrispCore", "Config", "OCI", "Store", "Registry", "Images", "SPDY",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    // The pod sandbox's init process, built into the default sandbox image: static C, a few KB of memory.
    .executableTarget(
      name: "crisp-pause",
      cSettings: [.unsafeFlags(["-Os"])],
      linkerSettings: [
        .unsafeFlags(["-enable-experimental-feature", "Embedded", "-Xclang-linker", "-static", "-Xclang-linker", "-Wno-unused-command-line-argument"])
      ]
    ),
    .executableTarget(
      name: "crispctl",
      dependencies: [
        "CRIAPI", "ConfigCommands", "SPDY",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict
    ),
    .testTarget(name: "CRIAPITests", dependencies: ["CRIAPI"], swiftSettings: strict),
    .testTarget(name: "ConfigTests", dependencies: ["Config", "CrispCore"], swiftSettings: strict),
    .testTarget(name: "StoreTests", dependencies: ["Store", "CrispCore"], swiftSettings: strict),
    // CDI without a daemon or root: spec parsing per version, the registry's directory order and
    // conflicts, name rules, and edits applied to an OCI spec (host nodes are /dev/null and /dev/zero).
    .testTarget(name: "CDITests", dependencies: ["CDI", "CrispCore", "OCI", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
    // `crisp check` on this machine (root: it probes overlayfs and the runtimes), its injected failures, and
    // the executable end to end.
    .testTarget(
      name: "PreflightTests", dependencies: ["Preflight", "Config", "CrispCore", "Registry", "TestSupport"], swiftSettings: strict),
    .testTarget(name: "PodNetworkTests", dependencies: ["PodNetwork", "Config", "CrispCore"], swiftSettings: strict),
    // Shared by the integration tests: the daemon, registry and fixture harnesses. Never part of a product.
    .target(
      name: "TestSupport",
      dependencies: [
        "CRIAPI", "CrispCore",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
      ],
      path: "Tests/TestSupport",
      swiftSettings: strict
    ),
    .testTarget(
      name: "DaemonTests",
      dependencies: [
        "CRIAPI", "CrispCore", "TestSupport",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: strict
    ),
    // The gRPC transport without a daemon or root: the per-call state machine transition by transition, and
    // the connection handler frame by frame on NIO's EmbeddedChannel.
    .testTarget(
      name: "CRIServerUnitTests",
      dependencies: [
        "CRIServer", "CRIAPI", "Config", "CrispCore",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: strict
    ),
    // The CRI translation at the CRIServer/Runtime boundary, without a daemon.
    .testTarget(
      name: "CRITranslationTests",
      dependencies: ["CRIAPI", "CRIServer", "CrispCore", "Runtime", "Store", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      swiftSettings: strict
    ),
    .testTarget(name: "StreamingUnitTests", dependencies: ["CZlib", "SPDY", "Streaming"], swiftSettings: strict),
    // In-memory fakes of Runtime's host seams (HostServices): they log every call and fail on demand, so
    // the lifecycle's steps and undos are unit-tested without root. Never part of a product.
    .target(
      name: "RuntimeFakes",
      dependencies: ["CrispCore", "Images", "PodNetwork", "Runtime"],
      path: "Tests/RuntimeFakes",
      swiftSettings: strict
    ),
    .testTarget(
      name: "RuntimeUnitTests",
      dependencies: [
        "CDI", "Config", "CrispCore", "Images", "OCI", "PodNetwork", "Registry", "Runtime", "RuntimeFakes", "Store",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "RuntimeTests",
      dependencies: [
        "CRIAPI", "CrispCore", "Config", "PodNetwork", "Runtime", "Registry", "SPDY", "TestSupport",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "ImagesTests",
      dependencies: [
        "CRIAPI", "CrispCore", "CLinux", "Config", "OCI", "Store", "Registry", "Images", "TestSupport",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
  ]
)
