public import CrispCore

/// A plugin's ADD result in one shape, whichever CNI version produced it: 0.1.0 and 0.2.0 name `ip4`/`ip6`
/// blocks with no interfaces; 0.3.0 and later list interfaces and address each IP to one of them.
public struct CNIResult: Sendable, Equatable {
  public struct Interface: Sendable, Equatable {
    public var name: String
    public var mac: String
    /// The netns path for an interface inside the pod; empty for one on the host (the veth's host end).
    public var sandbox: String
  }

  public struct IPConfig: Sendable, Equatable {
    /// CIDR notation, e.g. `10.88.0.5/16`.
    public var address: String
    public var gateway: String
    /// Index into `interfaces`, when the result says which interface holds the address.
    public var interface: Int?

    /// The address without its prefix length.
    public var ip: String { String(address.split(separator: "/", maxSplits: 1).first ?? "") }
    public var isIPv6: Bool { ip.contains(":") }
  }

  public var interfaces: [Interface]
  public var ips: [IPConfig]
  public var dnsServers: [String]

  /// Reads a result document of any supported version.
  public static func parse(_ document: JSONValue) throws(CrispError) -> CNIResult {
    guard document.object != nil else { throw CrispError.internalError("CNI result is not a JSON object") }
    var result = CNIResult(interfaces: [], ips: [], dnsServers: [])
    result.dnsServers = document["dns"]?["nameservers"]?.array?.compactMap(\.string) ?? []
    let version = document["cniVersion"]?.string ?? ""
    if version == "0.1.0" || version == "0.2.0" || (document["ips"] == nil && (document["ip4"] != nil || document["ip6"] != nil)) {
      for key in ["ip4", "ip6"] {
        guard let block = document[key] else { continue }
        guard let address = block["ip"]?.string else { throw CrispError.internalError("CNI result \(key) has no \"ip\"") }
        result.ips.append(IPConfig(address: address, gateway: block["gateway"]?.string ?? "", interface: nil))
      }
      return result
    }
    for entry in document["interfaces"]?.array ?? [] {
      result.interfaces.append(
        Interface(
          name: entry["name"]?.string ?? "", mac: entry["mac"]?.string ?? "", sandbox: entry["sandbox"]?.string ?? ""))
    }
    for entry in document["ips"]?.array ?? [] {
      guard let address = entry["address"]?.string else { throw CrispError.internalError("CNI result ips[] entry has no \"address\"") }
      result.ips.append(IPConfig(address: address, gateway: entry["gateway"]?.string ?? "", interface: entry["interface"]?.int))
    }
    return result
  }

  /// The addresses on the pod interface `ifName`. Results without interface indexes (old versions, or a
  /// plugin that leaves it out) give all their addresses to the interface the plugin was asked to set up.
  public func addresses(onInterface ifName: String) -> [IPConfig] {
    ips.filter { ip in
      guard let index = ip.interface else { return true }
      guard interfaces.indices.contains(index) else { return false }
      let interface = interfaces[index]
      return interface.name == ifName && !interface.sandbox.isEmpty
    }
  }
}
