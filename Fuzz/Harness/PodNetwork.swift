// Fuzz targets over Sources/PodNetwork: what a CNI plugin prints on ADD (any plugin on the node, any version),
// and an rtnetlink link-dump or stats-dump datagram (the kernel's, read for pod network stats).
let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  "cni-result": { bytes in
    guard let document = JSONValue.parse(bytes) else { return }
    _ = document.bytes
    guard let result = try? CNIResult.parse(document) else { return }
    for name in ["eth0", ""] + result.interfaces.map(\.name) {
      for address in result.addresses(onInterface: name) { _ = (address.ip, address.isIPv6) }
    }
  },
  "rtnetlink": { bytes in
    bytes.withUnsafeBytes { datagram in
      guard let messages = try? NetlinkMessage.messages(in: datagram) else { return }
      var links: [HostLink] = []
      var counters: [LinkCounters] = []
      for message in messages {
        // Every message is tried as a link, whatever its type says: the decoder must hold for any payload.
        if let link = try? HostLink(parsing: datagram, payload: message.payload) {
          _ = link.asPeer(named: "eth0")
          links.append(link)
        }
        if let link = try? LinkCounters(parsing: datagram, payload: message.payload) { counters.append(link) }
        _ = try? message.errorCode(in: datagram)
      }
      let table = HostLinkTable(links)
      for link in links { _ = table.peers(inNamespace: link.peerNamespaceID ?? -1) }
      // The counters put on the links described (the same datagram read both ways).
      _ = HostLinkTopology(links, described: .now).links(with: counters)
    }
  },
]
