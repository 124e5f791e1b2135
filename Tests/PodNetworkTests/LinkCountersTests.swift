import CrispCore
@testable import PodNetwork
import Testing

/// The counters-only link dump (RTM_GETSTATS) decoded from crafted bytes, and what a stats pass does with
/// it: the counters go on the links last described in full only while the host has exactly those links.
@Suite struct LinkCountersTests {
  typealias Bytes = RouteNetlinkParsingTests

  /// `struct if_stats_msg` for link `index` (filter IFLA_STATS_LINK_64), then the attributes.
  static func statsPayload(index: Int32, _ attributes: [[UInt8]]) -> [UInt8] {
    [0, 0] + Bytes.le(UInt16(0)) + Bytes.le(index) + Bytes.le(UInt32(1)) + attributes.flatMap { $0 }
  }
  static func parse(_ payload: [UInt8]) throws -> LinkCounters {
    try payload.withUnsafeBytes { buffer in try LinkCounters(parsing: buffer, payload: 0..<buffer.count) }
  }

  @Test func statsMessageDecodes() throws {
    let link64 = Bytes.attribute(LinkCounters.link64, Bytes.stats64(rxBytes: 10, txBytes: 20, rxErrors: 1, txErrors: 2, extra: 104))
    // An attribute it did not ask for (a newer kernel's) is skipped.
    let other = Bytes.attribute(9, [1, 2, 3, 4])
    let counters = try Self.parse(Self.statsPayload(index: 12, [other, link64]))
    #expect(counters == LinkCounters(index: 12, rxBytes: 10, rxErrors: 1, txBytes: 20, txErrors: 2))
  }

  @Test func badStatsMessagesAreErrors() {
    func rejects(_ payload: [UInt8], _ words: String) {
      do {
        _ = try Self.parse(payload)
        Issue.record("accepted: \(words)")
      } catch {
        #expect((error as? CrispError)?.message.contains(words) == true, "\(error)")
      }
    }
    rejects([0, 0, 0, 0, 5, 0, 0, 0], "stats message of 8 bytes")
    // Without the counters it asked for: an error (the links are then described in full), not zeros.
    rejects(Self.statsPayload(index: 3, [Bytes.attribute(9, [1, 2, 3, 4])]), "without IFLA_STATS_LINK_64")
    rejects(Self.statsPayload(index: 1, [Bytes.attribute(LinkCounters.link64, [UInt8](repeating: 1, count: 47))]), "64-bit stats of 47")
    rejects(Self.statsPayload(index: 1, [Bytes.le(UInt16(300)) + Bytes.le(LinkCounters.link64) + [0, 0, 0, 0]]), "outside")
    // Every cut of a good message is an error, never a trap or made-up counters.
    let good = Self.statsPayload(index: 4, [Bytes.attribute(LinkCounters.link64, Bytes.stats64(rxBytes: 1, txBytes: 2, rxErrors: 0, txErrors: 0))])
    for end in 0..<good.count {
      #expect(throws: CrispError.self, "cut at \(end)") { try Self.parse(Array(good[0..<end])) }
    }
  }

  static func veth(_ index: Int32, peer: Int32, namespace: Int32) -> HostLink {
    HostLink(index: index, name: "veth\(index)", kind: "veth", peerIndex: peer, peerNamespaceID: namespace)
  }

  @Test func countersGoOnTheDescribedLinksOnly() {
    let now = ContinuousClock.now
    let links = [HostLink(index: 1, name: "lo"), HostLink(index: 2, name: "cni0", kind: "bridge"), Self.veth(5, peer: 2, namespace: 0)]
    let topology = HostLinkTopology(links, described: now)
    #expect(topology.peers.map(\.index) == [5], "only veths with a peer elsewhere can be a pod's")

    let same = [LinkCounters(index: 2), LinkCounters(index: 5, rxBytes: 100, rxErrors: 1, txBytes: 200, txErrors: 2), LinkCounters(index: 1)]
    let counted = topology.links(with: same)
    #expect(counted?.count == 1)
    #expect(counted?.first?.asPeer(named: "eth0") == InterfaceStatistics(name: "eth0", rxBytes: 200, rxErrors: 2, txBytes: 100, txErrors: 1))
    #expect(counted?.first?.peerNamespaceID == 0 && counted?.first?.peerIndex == 2)

    // A link came (a new pod's veth), went, or was swapped for another: describe again.
    #expect(topology.links(with: same + [LinkCounters(index: 9)]) == nil)
    #expect(topology.links(with: Array(same.dropFirst())) == nil)
    #expect(topology.links(with: [LinkCounters(index: 2), LinkCounters(index: 6), LinkCounters(index: 1)]) == nil)
    #expect(topology.links(with: [LinkCounters(index: 2), LinkCounters(index: 2), LinkCounters(index: 5)]) == nil)

    #expect(topology.current(at: now))
    #expect(!topology.current(at: now + HostLinkTopology.lifetime))
    var stale = topology
    stale.stale = true
    #expect(!stale.current(at: now))
  }
}
