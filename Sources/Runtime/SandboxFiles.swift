public import CrispCore
import Foundation

/// The files a pod's containers see as /etc/hostname, /etc/hosts and /etc/resolv.conf.
public enum SandboxFiles {
  /// Writes the three files into `directory` (atomically) and returns their paths.
  /// `group` is the host group of a user-namespaced pod's root, which must reach the files (see
  /// ``FilePath/makePrivateDirectory(_:group:)``): a container's root can write to them.
  public static func write(
    directory: String, config: PodSandboxSpec, hostNetwork: Bool, group: UInt32? = nil
  ) throws(CrispError) -> (hostname: String, hosts: String, resolvConf: String) {
    do {
      try FilePath.makePrivateDirectory(directory, group: group)
      let hostname = directory + "/hostname", hosts = directory + "/hosts", resolv = directory + "/resolv.conf"
      let name =
        hostNetwork ? ((try? FilePath.readText("/etc/hostname")) ?? "localhost") : (config.hostname.isEmpty ? config.metadata.name : config.hostname)
      try AtomicFile.write(name + "\n", to: hostname)
      if hostNetwork, let text = try FilePath.readText("/etc/hosts") {
        try AtomicFile.write(text + "\n", to: hosts)
      } else {
        try AtomicFile.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", to: hosts)
      }
      try AtomicFile.write(resolvConf(config.dnsConfig, hostNetwork: hostNetwork), to: resolv)
      return (hostname, hosts, resolv)
    } catch let error as CrispError {
      throw error
    } catch {
      throw CrispError.internalError("sandbox files in \(directory): \(error)")
    }
  }

  /// The pod's resolv.conf: kubelet's DNS config when given, else the host's.
  static func resolvConf(_ dns: DNSConfig?, hostNetwork: Bool) throws -> String {
    guard let dns, !(dns.servers.isEmpty && dns.searches.isEmpty && dns.options.isEmpty) else {
      return (try FilePath.readText("/etc/resolv.conf")).map { $0 + "\n" } ?? ""
    }
    var text = ""
    if !dns.searches.isEmpty { text += "search \(dns.searches.joined(separator: " "))\n" }
    for server in dns.servers { text += "nameserver \(server)\n" }
    if !dns.options.isEmpty { text += "options \(dns.options.joined(separator: " "))\n" }
    return text
  }
}
