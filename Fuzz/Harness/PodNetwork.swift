// Fuzz target over Sources/PodNetwork: what a CNI plugin prints on ADD (any plugin on the node, any version).
let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  "cni-result": { bytes in
    guard let document = JSONValue.parse(bytes) else { return }
    _ = document.bytes
    guard let result = try? CNIResult.parse(document) else { return }
    for name in ["eth0", ""] + result.interfaces.map(\.name) {
      for address in result.addresses(onInterface: name) { _ = (address.ip, address.isIPv6) }
    }
  }
]
