public import CrispCore
import Synchronization

/// A pod's interface counters (loopback left out) without entering its network namespace on every call.
///
/// The counters always come from the kernel at call time: the host end of each veth pair, found in one
/// rtnetlink link dump of the daemon's own namespace (``HostLinkTable``), holds the pod end's counters
/// with rx and tx swapped. What is learnt once per pod, by one read inside its namespace, is only the
/// mapping: the namespace's id as the host sees it (RTM_GETNSID) and the pod-side name and ifindex of
/// each interface. Interfaces with no host veth peer (macvlan, ipvlan, ...) are read inside the
/// namespace on every call, as is a pod whose set of host peers no longer matches what was learnt (then
/// the mapping is learnt again).
///
/// The host's links themselves are described in full (RTM_GETLINK: which veth's peer is in which namespace)
/// only when they may have changed; a pass otherwise asks the kernel for the counters alone (RTM_GETSTATS)
/// and puts them on the links last described (``HostLinkTopology``).
public final class PodInterfaceCounters: Sendable {
  private let plans = Mutex<[String: PodLinkPlan]>([:])
  private let topology = Mutex<HostLinkTopology?>(nil)
  private let descriptions = Atomic<Int>(0)
  /// Bumped whenever a pod's links did not match: a full dump that began before a bump may predate the
  /// change and is stored as stale.
  private let mismatches = Atomic<Int>(0)

  /// How many full link dumps this reader has taken: most passes should take the counters alone, and a
  /// count that grows with every pass says the host's links keep changing.
  public var linkDescriptions: Int { descriptions.load(ordering: .relaxed) }

  public init() {}

  /// One dump of the host's links with their counters now, shared by every pod of one stats pass: the
  /// counters alone on the links last described while the set of links is the same, else a full dump.
  public func hostLinks() throws(CrispError) -> HostLinkTable {
    let now = ContinuousClock.now
    if let known = topology.withLock({ $0 }), known.current(at: now),
      let counters = try? RouteNetlink.linkCounters(), let links = known.links(with: counters)
    {
      return HostLinkTable(links)
    }
    let before = mismatches.load(ordering: .acquiring)
    let links = try RouteNetlink.links()
    descriptions.add(1, ordering: .relaxed)
    topology.withLock { known in
      // A slower dump that began earlier never replaces a later one.
      if let known, known.described > now { return }
      var described = HostLinkTopology(links, described: now)
      // Read under the lock ``describeAgain()`` bumps it under: a mismatch is either seen here or marks
      // what is stored here.
      described.stale = mismatches.load(ordering: .acquiring) != before
      known = described
    }
    return HostLinkTable(links)
  }

  /// The next pass describes the links in full: a pod's links did not match what was known.
  private func describeAgain() {
    topology.withLock { known in
      mismatches.add(1, ordering: .releasing)
      known?.stale = true
    }
  }

  /// The interfaces of the pod `sandboxID` whose namespace is pinned at `netnsPath`, with their counters
  /// now: from `host` (a dump taken for this call) where every interface has a host peer, else read
  /// inside the namespace.
  public func read(sandboxID: String, netnsPath: String, host: HostLinkTable) async throws(CrispError) -> [InterfaceStatistics] {
    let known = plans.withLock { $0[sandboxID] }
    if let plan = known, plan.servedFromHost, let namespace = plan.namespaceID {
      let peers = host.peers(inNamespace: namespace)
      if Set(peers.keys) == plan.peered {
        var result: [InterfaceStatistics] = []
        for interface in plan.interfaces {
          guard let link = peers[interface.index] else { break }
          result.append(link.asPeer(named: interface.name))
        }
        if result.count == plan.interfaces.count { return result }
      }
    }
    // A new pod, or one whose host peers are not what was learnt: the links changed since they were last
    // described (a pod whose interfaces have no host peer is read inside every time, and says nothing).
    if known?.servedFromHost ?? true { describeAgain() }
    return try await learn(sandboxID: sandboxID, netnsPath: netnsPath, host: host)
  }

  /// The same for one pod, with a dump of its own.
  public func read(sandboxID: String, netnsPath: String) async throws(CrispError) -> [InterfaceStatistics] {
    try await read(sandboxID: sandboxID, netnsPath: netnsPath, host: try hostLinks())
  }

  /// Drops what was learnt about a pod (its namespace is going, or gone).
  public func forget(sandboxID: String) {
    _ = plans.withLock { $0.removeValue(forKey: sandboxID) }
  }

  /// Drops what was learnt about every pod not in `sandboxIDs` (those no longer ready).
  public func retain(only sandboxIDs: Set<String>) {
    plans.withLock { plans in plans = plans.filter { sandboxIDs.contains($0.key) } }
  }

  /// Reads inside the namespace (the answer of this call) and remembers the mapping for the next ones.
  private func learn(sandboxID: String, netnsPath: String, host: HostLinkTable) async throws(CrispError) -> [InterfaceStatistics] {
    let inside = try await InterfaceStatistics.readIndexed(netnsPath: netnsPath).filter { $0.statistics.name != "lo" }
    // The host dump came first, and listing a veth whose peer is in another namespace makes the kernel
    // give that namespace an id: a pod with a veth has one by now. Without one (or when the kernel would
    // not say), every read is inside, as this one.
    let namespace = (try? RouteNetlink.namespaceID(netnsPath: netnsPath)) ?? nil
    let peers = namespace.map { host.peers(inNamespace: $0) } ?? [:]
    let plan = PodLinkPlan(
      namespaceID: namespace, interfaces: inside.map { PodLinkPlan.Interface(name: $0.statistics.name, index: $0.index) },
      peered: Set(peers.keys))
    plans.withLock { $0[sandboxID] = plan }
    return inside.map { $0.statistics }
  }
}
