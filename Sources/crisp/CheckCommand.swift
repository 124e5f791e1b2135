import ArgumentParser
import Config
import Foundation
import Preflight

/// `crisp check`: the node preflight (see ``Preflight``), on the configuration the daemon would read.
struct CheckCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "Check, without changing anything, whether this node can run crisp as configured; exit 1 when a check fails.")

  enum Output: String, ExpressibleByArgument, CaseIterable { case text, json }

  @Option(name: .long, help: "Configuration file (default /etc/crisp/config.toml, with its config.d drop-ins).")
  var config: String?
  @Option(name: .long, help: "Override `root`, as for serve.")
  var root: String?
  @Option(name: .long, help: "Override `state`, as for serve.")
  var state: String?
  @Option(name: .shortAndLong, help: "Output: text (one line per check) or json.")
  var output: Output = .text

  func run() async throws {
    var results: [PreflightResult] = []
    do {
      let loaded = try ConfigLoader.loadWithSources(path: config ?? ConfigLoader.defaultPath, required: config != nil)
      let effective = loaded.config.overriding(root: root, state: state, address: nil, logLevel: nil)
      results.append(
        .ok("config", loaded.files.isEmpty ? "no configuration file: built-in defaults" : "read \(loaded.files.joined(separator: ", "))"))
      let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
      let pause = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("crisp-pause").path
      results += await Preflight(config: effective, pauseBinary: FileManager.default.isExecutableFile(atPath: pause) ? pause : nil).run()
    } catch {
      results.append(.fail("config", "\(error)", remedy: "fix the file (crisp config check names the line)"))
    }
    print(output == .json ? PreflightReport.json(results) : PreflightReport.text(results), terminator: "")
    let status = PreflightReport.exitStatus(results)
    if status != 0 { throw ExitCode(status) }
  }
}
