import Foundation
import Synchronization

/// A bridge network of one test's own: a bridge name and a /24 no other test in this run uses, host-local
/// IPAM keeping its leases in the test's directory (so a test can see they are all released).
public struct TestNetwork: Sendable {
  private static let counter = Atomic<Int>(0)

  public let bridge: String
  /// e.g. `10.171.4`; pods get `<prefix>.2` and up, the bridge `<prefix>.1`.
  public let prefix: String
  public var subnet: String { prefix + ".0/24" }
  public var gateway: String { prefix + ".1" }
  public let ipamDirectory: String
  public let name = "crisp-test"

  public init(directory: String) {
    let index = Int(getpid() % 32) * 256 + Self.counter.wrappingAdd(1, ordering: .relaxed).oldValue % 256
    bridge = "crt\(index)"
    prefix = "10.\(160 + index / 256).\(index % 256)"
    ipamDirectory = directory + "/ipam"
  }

  /// The plugin list of crisp's shipped default (cni-conf/) on the test's bridge and subnet: bridge (gateway
  /// on the bridge, hairpin), host-local, portmap, bandwidth, then `extraPlugins`, then loopback.
  public func conflist(ipMasq: Bool = false, extraPlugins: [[String: Any]] = []) -> [String: Any] {
    [
      "cniVersion": "1.0.0", "name": name,
      "plugins": [
        [
          "type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": ipMasq, "hairpinMode": true,
          "ipam": [
            "type": "host-local", "ranges": [[["subnet": subnet]]], "routes": [["dst": "0.0.0.0/0"]], "dataDir": ipamDirectory,
          ],
        ],
        ["type": "portmap", "capabilities": ["portMappings": true]],
        ["type": "bandwidth", "capabilities": ["bandwidth": true]],
      ] + extraPlugins + [["type": "loopback"]],
    ]
  }

  public func writeConfig(to confDir: String, ipMasq: Bool = false, extraPlugins: [[String: Any]] = [], file: String = "10-test.conflist") throws {
    let data = try JSONSerialization.data(withJSONObject: conflist(ipMasq: ipMasq, extraPlugins: extraPlugins), options: [.sortedKeys])
    let temporary = confDir + "/." + file + ".tmp"
    try data.write(to: URL(fileURLWithPath: temporary))
    guard rename(temporary, confDir + "/" + file) == 0 else { throw HarnessError("rename \(temporary): errno \(errno)") }
  }

  /// The IPs host-local holds for this network (one file per lease, named by the address).
  public var leases: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: ipamDirectory + "/" + name)) ?? []).filter { $0.first?.isNumber == true }.sorted()
  }

  /// Deletes the bridge (pods' veths went with their namespaces).
  public func remove() {
    _ = try? TestEnvironment.shell("ip link delete \(bridge) 2>/dev/null; true")
  }
}
