import Config
import CrispCore
import Registry

/// Every hosts.toml under `registry.config_path`, parsed as a pull parses it, with the CA and client
/// certificate files it names loaded; and the inline `registry.configs` TLS files.
struct RegistryChecks {
  var config: CrispConfig
  /// At most this many host directories per config path directory are looked at.
  static let maxHosts = 1000

  func run() -> [PreflightResult] {
    let name = "registry.hosts"
    var results: [PreflightResult] = []
    var parsed: [String] = []
    let directories = config.registry.configPath.split(separator: ":").map(String.init).filter { !$0.isEmpty }
    for directory in directories {
      let hosts = ((try? FilePath.listDirectory(directory)) ?? []).sorted().prefix(Self.maxHosts)
      for host in hosts {
        let path = "\(directory)/\(host)/hosts.toml"
        guard FilePath.exists(path) else { continue }
        do {
          guard let file = try HostResolver.readHostsFile(path) else { continue }
          let problems = ([file.serverSettings] + file.hosts.map(\.settings)).flatMap { RegistryTLSFiles.problems($0) }
          if let first = problems.first {
            results.append(
              .fail(
                name, "\(path): \(first)" + (problems.count > 1 ? " (and \(problems.count - 1) more)" : ""),
                remedy: "fix the path in \(path) or install the file"))
          } else {
            parsed.append(path)
          }
        } catch {
          results.append(.fail(name, error.message, remedy: "fix \(path) (format: containerd's hosts.toml); pulls from \(host) fail until then"))
        }
      }
    }
    for (host, settings) in config.registry.configs.sorted(by: { $0.key < $1.key }) {
      guard let tls = settings.tls else { continue }
      var hostSettings = HostsFile.HostSettings()
      if !tls.caFile.isEmpty { hostSettings.caFiles = [tls.caFile] }
      if !tls.certFile.isEmpty { hostSettings.clientPairs = [.init(certificate: tls.certFile, key: tls.keyFile)] }
      if let first = RegistryTLSFiles.problems(hostSettings).first {
        results.append(.fail(name, "registry.configs.\"\(host)\".tls: \(first)", remedy: "fix the path in the configuration or install the file"))
      }
    }
    if results.isEmpty {
      let message =
        parsed.isEmpty
        ? "no hosts.toml under \(directories.joined(separator: ", ")): registries are reached directly"
        : "\(parsed.count) hosts.toml parsed, their TLS files load: \(parsed.joined(separator: ", "))"
      results.append(.ok(name, message))
    }
    return results
  }
}
