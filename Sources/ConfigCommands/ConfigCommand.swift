public import ArgumentParser
import Config
import CrispCore
import Foundation

/// `config default|check|import-containerd`, shared by `crisp` and `crispctl` so an operator finds them
/// under either name.
public struct ConfigCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "config", abstract: "Print, check and import configuration files.",
    subcommands: [Default.self, Check.self, ImportContainerd.self])

  public init() {}

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
        failConfig("\(error)")
      }
    }
  }

  struct ImportContainerd: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "import-containerd",
      abstract: "Translate a containerd config.toml (1.x or 2.x) into a crisp configuration on stdout; unmapped keys are warned about on stderr.")
    @Argument(help: "The containerd configuration file.") var file: String
    func run() {
      guard let bytes = (try? FilePath.read(file)).flatMap({ $0 }) else { failConfig("\(file): cannot read") }
      do {
        let result = try ContainerdImporter.importConfig(String(decoding: bytes, as: UTF8.self), source: file)
        for warning in result.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        print(ConfigRenderer.render(result.config), terminator: "")
      } catch {
        failConfig("\(error)")
      }
    }
  }
}

/// Prints `<program>: <message>` to standard error and exits with status 1.
func failConfig(_ message: String) -> Never {
  let program = CommandLine.arguments.first.map { FilePath.lastComponent(of: $0) } ?? "crisp"
  FileHandle.standardError.write(Data("\(program): \(message)\n".utf8))
  exit(1)
}
