import ArgumentParser
import Config
import CRIServer
import CrispCore
import Foundation
import Logging

/// `crisp`: the daemon, plus the `config` tools an operator uses before starting it.
@main
struct Crisp: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "crisp",
    abstract: "A Kubernetes container runtime (CRI v1) on runc.",
    version: CrispVersion.current,
    subcommands: [Serve.self, ConfigCommand.self],
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
    let loaded: CrispConfig
    do {
      loaded = try ConfigLoader.load(path: config ?? ConfigLoader.defaultPath, required: config != nil)
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
    let effective = loaded.overriding(root: root, state: state, address: address, logLevel: level)
    LogOutput.bootstrap(effective.log)
    let logger = Logger(label: "crisp")
    do {
      try await Daemon(config: effective, logger: logger).run()
    } catch let error as CrispError {
      fail(error.description)
    }
  }
}

struct ConfigCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "config", abstract: "Print, check and import configuration files.",
    subcommands: [Default.self, Check.self, ImportContainerd.self])

  struct Default: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the complete default configuration, commented.")
    func run() { print(ConfigRenderer.render(CrispConfig()), terminator: "") }
  }

  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a configuration file; exit non-zero naming the first problem.")
    @Argument(help: "The file to check.") var file: String
    func run() {
      do {
        _ = try ConfigLoader.load(path: file, required: true)
        print("\(file): OK")
      } catch {
        fail("\(error)")
      }
    }
  }

  struct ImportContainerd: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "import-containerd",
      abstract: "Translate a containerd config.toml (1.x or 2.x) into a crisp configuration on stdout; unmapped keys are warned about on stderr.")
    @Argument(help: "The containerd configuration file.") var file: String
    func run() {
      guard let bytes = (try? FilePath.read(file)).flatMap({ $0 }) else { fail("\(file): cannot read") }
      do {
        let result = try ContainerdImporter.importConfig(String(decoding: bytes, as: UTF8.self), source: file)
        for warning in result.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        print(ConfigRenderer.render(result.config), terminator: "")
      } catch {
        fail("\(error)")
      }
    }
  }
}

/// Prints `crisp: <message>` to standard error and exits with status 1.
func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("crisp: \(message)\n".utf8))
  exit(1)
}
