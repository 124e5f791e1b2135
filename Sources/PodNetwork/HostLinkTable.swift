/// The host ends of the veth pairs in one link dump, by the namespace their other end is in and that
/// end's ifindex there: how a pod's interfaces are found among the host's links.
public struct HostLinkTable: Sendable {
  /// Namespace id (as the daemon's namespace names it) → peer ifindex → the host end.
  var byNamespace: [Int32: [Int32: HostLink]] = [:]

  /// Keeps the veth links whose peer is in another namespace; every other link is not a pod's peer.
  public init(_ links: [HostLink]) {
    for link in links where link.kind == "veth" {
      guard let namespace = link.peerNamespaceID, let peer = link.peerIndex else { continue }
      byNamespace[namespace, default: [:]][peer] = link
    }
  }

  /// The host ends whose peers are in namespace `id`, by peer ifindex.
  public func peers(inNamespace id: Int32) -> [Int32: HostLink] {
    byNamespace[id] ?? [:]
  }
}
