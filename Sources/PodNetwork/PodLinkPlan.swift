/// What one in-namespace read taught about a pod's interfaces, kept so later reads need not enter the
/// namespace: the id the daemon's namespace gives the pod's, each interface's name and ifindex there
/// (loopback left out), and which of them had a host veth peer.
struct PodLinkPlan: Sendable {
  struct Interface: Sendable {
    var name: String
    var index: Int32
  }

  var namespaceID: Int32?
  var interfaces: [Interface]
  /// Pod-side ifindexes that had a host peer when learnt. Any change in this set means the pod's links
  /// changed: the plan is learnt again.
  var peered: Set<Int32>

  /// Every interface has a host peer, so the host dump alone answers.
  var servedFromHost: Bool {
    namespaceID != nil && interfaces.allSatisfy { peered.contains($0.index) }
  }
}
