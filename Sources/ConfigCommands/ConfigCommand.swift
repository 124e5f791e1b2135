public import ArgumentParser
import Config
import CrispCore
import Foundation

/// `config default|check|dump|import-containerd`, shared by `crisp` and `crispctl` so an operator finds them
/// under either name.
public struct ConfigCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "config", abstract: "Print, check, dump and import configuration files.",
    subcommands: [Default.self, Check.self, Dump.self, ImportContainerd.self])

  public init() {}

  struct Default: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the complete default configuration, commented.")
    func run() { print(ConfigRenderer.render(CrispConfig()), terminator: "") }
  }

  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Validate a configuration file merged with its drop-ins (<dir>/config.d/*.toml); exit non-zero naming the file and line of the first problem."
    )
    @Argument(help: "The main file to check (default /etc/crisp/config.toml).") var file: String = ConfigLoader.defaultPath
    func run() {
      do {
        let loaded = try ConfigLoader.loadWithSources(path: file, required: true)
        let dropIns = loaded.files.filter { $0 != file }
        print(dropIns.isEmpty ? "\(file): OK" : "\(file): OK, with \(dropIns.count) drop-in(s): \(dropIns.joined(separator: ", "))")
      } catch {
        failConfig("\(error)")
      }
    }
  }

  struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the effective configuration (main file merged with its drop-ins), each value a file set followed by \"# from FILE\".")
    @Option(name: .long, help: "The main file (default /etc/crisp/config.toml); its drop-ins are <dir>/config.d/*.toml.")
    var config: String = ConfigLoader.defaultPath
    func run() {
      do {
        print(ConfigRenderer.renderEffective(try ConfigLoader.loadWithSources(path: config, required: false)), terminator: "")
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
