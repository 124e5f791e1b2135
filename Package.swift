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
    .target(name: "CrispCore", swiftSettings: strict),
    .target(
      name: "Config",
      dependencies: ["CrispCore", .product(name: "TOMLKit", package: "TOMLKit")],
      swiftSettings: strict
    ),
    .target(
      name: "Store",
      dependencies: ["CrispCore", .product(name: "GRDB", package: "GRDB.swift")],
      swiftSettings: strict
    ),
    .target(
      name: "PodNetwork",
      dependencies: ["CrispCore", "Config", .product(name: "Logging", package: "swift-log")],
      swiftSettings: strict
    ),
    .target(
      name: "CRIServer",
      dependencies: [
        "CRIAPI", "CrispCore", "Config", "Store", "PodNetwork",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: strict
    ),
    .executableTarget(
      name: "crisp",
      dependencies: [
        "CRIServer", "Config", "CrispCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    .executableTarget(
      name: "crispctl",
      dependencies: [
        "CRIAPI",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict
    ),
    .testTarget(name: "CRIAPITests", dependencies: ["CRIAPI"], swiftSettings: strict),
    .testTarget(name: "ConfigTests", dependencies: ["Config", "CrispCore"], swiftSettings: strict),
    .testTarget(name: "StoreTests", dependencies: ["Store", "CrispCore"], swiftSettings: strict),
    .testTarget(name: "PodNetworkTests", dependencies: ["PodNetwork", "Config"], swiftSettings: strict),
    .testTarget(
      name: "DaemonTests",
      dependencies: [
        "CRIAPI", "CrispCore",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
      ],
      swiftSettings: strict
    ),
  ]
)
