/// Which of the host's links are pods' veth peers, as the last full link dump described them, so that a
/// stats pass can take the counters alone (``LinkCounters``) and put them on the right links.
///
/// It is trusted only while the host has exactly the links it had then (the kernel hands ifindexes out in
/// turn, so a link that went or came changes the set; only a link made with an explicit index, or moved in
/// from another namespace, can take a freed one back), while no pod's links were found different from it
/// (``PodInterfaceCounters`` marks it stale), and for at most ``lifetime``: a veth whose peer moved to
/// another namespace keeps its ifindex, and a full description once a minute bounds how long anything of
/// the kind can go unseen. Counters are never taken from it: every pass reads them from the kernel.
struct HostLinkTopology: Sendable {
  static let lifetime: Duration = .seconds(60)

  /// The veth links whose peer is in another namespace (the only ones a pod's interface can map to).
  let peers: [HostLink]
  /// Every link's ifindex, whatever its kind.
  let indexes: Set<Int32>
  let described: ContinuousClock.Instant
  var stale = false

  init(_ links: [HostLink], described: ContinuousClock.Instant) {
    peers = links.filter { $0.kind == "veth" && $0.peerIndex != nil && $0.peerNamespaceID != nil }
    indexes = Set(links.map(\.index))
    self.described = described
  }

  func current(at now: ContinuousClock.Instant) -> Bool {
    !stale && now - described < Self.lifetime
  }

  /// The described peers with `counters` on them; nil when the counters are not of exactly the described
  /// set of links (one came or went: the links must be described again).
  func links(with counters: [LinkCounters]) -> [HostLink]? {
    guard counters.count == indexes.count else { return nil }
    var byIndex: [Int32: LinkCounters] = [:]
    byIndex.reserveCapacity(counters.count)
    for link in counters {
      guard indexes.contains(link.index), byIndex.updateValue(link, forKey: link.index) == nil else { return nil }
    }
    var result: [HostLink] = []
    result.reserveCapacity(peers.count)
    for peer in peers {
      guard let counted = byIndex[peer.index] else { return nil }
      var link = peer
      link.take(counted)
      result.append(link)
    }
    return result
  }
}
