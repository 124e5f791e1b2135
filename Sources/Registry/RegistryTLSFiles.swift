public import Config
import CrispCore
import Glibc
import NIOSSL

/// The CA and client certificate files a registry host names (hosts.toml `ca`, `client`): each loaded as
/// the pull will load it, and a failure said in words (which file, missing or not PEM) rather than as a
/// TLS library's error value.
public enum RegistryTLSFiles {
  /// Why the files of `settings` cannot be used, one sentence per file; empty when all load.
  public static func problems(_ settings: HostsFile.HostSettings) -> [String] {
    var problems: [String] = []
    for file in settings.caFiles {
      if let problem = missing(file, "CA file") ?? certificates(file, "CA file") { problems.append(problem) }
    }
    for pair in settings.clientPairs {
      if let problem = missing(pair.certificate, "client certificate") ?? certificates(pair.certificate, "client certificate") {
        problems.append(problem)
        continue
      }
      let key = pair.key.isEmpty ? pair.certificate : pair.key
      if let problem = missing(key, "client key") {
        problems.append(problem)
      } else if (try? NIOSSLPrivateKey(file: key, format: .pem)) == nil {
        problems.append("client key \(key) holds no PEM private key (or an encrypted one)")
      }
    }
    return problems
  }

  static func missing(_ file: String, _ role: String) -> String? {
    var info = stat()
    guard stat(file, &info) == 0 else { return "\(role) \(file): \(SystemError.last("stat", file).strerror)" }
    guard info.st_mode & S_IFMT == S_IFREG else { return "\(role) \(file) is not a regular file" }
    return nil
  }

  static func certificates(_ file: String, _ role: String) -> String? {
    guard let loaded = try? NIOSSLCertificate.fromPEMFile(file), !loaded.isEmpty else { return "\(role) \(file) holds no PEM certificate" }
    return nil
  }
}
