import CrispCore
public import PodNetwork

extension RuntimeManager {
  /// One dump of the host's links for a stats pass over `pods`; nil when none of them has a network
  /// namespace of its own, or when the dump failed (each pod is then read inside its namespace).
  func hostLinks(for pods: [SandboxView]) -> HostLinkTable? {
    guard pods.contains(where: { !$0.hostNetwork && !$0.record.netnsPath.isEmpty }) else { return nil }
    do {
      return try interfaceCounters.hostLinks()
    } catch {
      logger.warning("host link dump failed; pod interfaces are read inside each namespace", metadata: ["reason": "\(error.message)"])
      return nil
    }
  }

  /// The pod's interfaces other than loopback with their counters now (nil for a pod on the host's
  /// network, or when they cannot be read): from the host end of each veth where `host` (a dump taken
  /// for this call) has one, else inside the namespace.
  func podInterfaces(_ view: SandboxView, host: HostLinkTable?) async -> [InterfaceStatistics]? {
    guard !view.hostNetwork, !view.record.netnsPath.isEmpty else { return nil }
    if let host {
      return try? await interfaceCounters.read(sandboxID: view.record.id, netnsPath: view.record.netnsPath, host: host)
    }
    return try? await InterfaceStatistics.read(netnsPath: view.record.netnsPath).filter { $0.name != "lo" }
  }

  /// The pod's interfaces other than loopback, with their counters as of this call, read the way the
  /// stats read them (one host link dump; the namespace is entered only the first time, or for
  /// interfaces with no host veth peer). For PodSandboxStatus's verbose `info.interfaces`.
  public func podInterfaces(_ view: SandboxView) async -> [InterfaceStatistics]? {
    await podInterfaces(view, host: hostLinks(for: [view]))
  }
}
