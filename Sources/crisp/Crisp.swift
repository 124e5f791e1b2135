import ArgumentParser
import ConfigCommands
import Config
import CRIServer
import CrispCore
import Foundation
import Logging

/// `crisp`: the daemon, plus the `config` tools and the node `check` an operator uses before starting it.
@main
struct Crisp: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "crisp",
    abstract: "A Kubernetes container runtime (CRI v1) on runc.",
    version: CrispVersion.current,
    subcommands: [Serve.self, ConfigCommand.self, CheckCommand.self],
    defaultSubcommand: Serve.self)
}

/// Runs the daemon in the foreground.
struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve", abstract: "Serve the CRI socket (the default when no subcommand is given).")

  @Option(name: .long, help: "Configuration file.")
  var config: String?
  @Option(name: .long, help: "Override `root` (persistent data).")
  var root: String?
  @Option(name: .long, help: "Override `state` (runtime data; also moves the default socket there).")
  var state: String?
  @Option(name: .long, help: "Override `grpc.address` (the CRI socket path).")
  var address: String?
  @Option(name: .long, help: "Override `log.level` (trace, debug, info, notice, warning, error, critical).")
  var logLevel: String?

  func run() async throws {
    let loaded: LoadedConfig
    do {
      loaded = try ConfigLoader.loadWithSources(path: config ?? ConfigLoader.defaultPath, required: config != nil)
    } catch {
      fail("\(error)")
    }
    let address = self.address.map { $0.hasPrefix("unix://") ? String($0.dropFirst("unix://".count)) : $0 }
    for (flag, value) in [("--root", root), ("--state", state), ("--address", address)] {
      if let value, !value.hasPrefix("/") { fail("\(flag) must be an absolute path, got \"\(value)\"") }
    }
    var level: CrispConfig.Log.Level?
    if let logLevel {
      guard let parsed = CrispConfig.Log.Level(rawValue: logLevel) else { fail("--log-level: unknown level \"\(logLevel)\"") }
      level = parsed
    }
    let overrides: @Sendable (CrispConfig) -> CrispConfig = { [root, state, level] config in
      config.overriding(root: root, state: state, address: address, logLevel: level)
    }
    let effective = overrides(loaded.config)
    LogOutput.bootstrap(effective.log)
    let logger = Logger(label: "crisp")
    logger.info("configuration read", metadata: ["files": "\(loaded.files.isEmpty ? "none (defaults)" : loaded.files.joined(separator: ","))"])
    // The Swift runtime's backtracer is what logs where crisp died on a trap or fatal signal (a release
    // build's trap otherwise prints nothing); deploy/crisp.service turns it on.
    if !(ProcessInfo.processInfo.environment["SWIFT_BACKTRACE"] ?? "").contains("enable=yes") {
      logger.warning("SWIFT_BACKTRACE does not contain enable=yes: a crash of crisp will log no backtrace (see deploy/crisp.service)")
    }
    do {
      let reloadSource = ConfigReloadSource(path: config ?? ConfigLoader.defaultPath, required: config != nil, overrides: overrides)
      try await Daemon(config: effective, logger: logger, reloadSource: reloadSource).run()
    } catch let error as CrispError {
      fail(error.description)
    }
  }
}

/// Prints `crisp: <message>` to standard error and exits with status 1.
func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("crisp: \(message)\n".utf8))
  exit(1)
}
