public import Config

/// `crisp check`: a read-only look at whether this node can run crisp as configured, in the order an
/// operator would fix things (kernel, cgroups, runtimes, networking, registries, storage, privileges).
///
/// Nothing on the node is changed: probes (a test overlay mount, a probe container) live in temporary
/// directories that are removed, with their mounts, before the check returns.
public struct Preflight: Sendable {
  public let config: CrispConfig
  /// crisp's pause program (next to crisp), used as the probe container's only file.
  public let pauseBinary: String?

  public init(config: CrispConfig, pauseBinary: String?) {
    self.config = config
    self.pauseBinary = pauseBinary
  }

  public func run() async -> [PreflightResult] {
    var results = await KernelChecks(config: config).run()
    results += CgroupChecks(config: config).run()
    results += await RuntimeHandlerChecks(config: config, pauseBinary: pauseBinary).run()
    results += NetworkChecks(config: config).run()
    results += RegistryChecks(config: config).run()
    results += StorageChecks(config: config).run()
    results += PrivilegeChecks(config: config).run()
    return results
  }
}
