import CNetlink
public import CrispCore

/// Traffic counters of the interfaces inside a pod's network namespace, read over rtnetlink (libnl-route)
/// from a thread that alone joins the namespace. The pod stats of the CRI (`PodSandboxStats.linux.network`)
/// are built from these.
public struct InterfaceStatistics: Sendable, Equatable, Encodable {
  public var name: String
  public var rxBytes: UInt64
  public var rxErrors: UInt64
  public var txBytes: UInt64
  public var txErrors: UInt64

  /// The most interfaces read from one namespace.
  static let interfaceLimit = 4096

  public init(name: String, rxBytes: UInt64, rxErrors: UInt64, txBytes: UInt64, txErrors: UInt64) {
    self.name = name
    self.rxBytes = rxBytes
    self.rxErrors = rxErrors
    self.txBytes = txBytes
    self.txErrors = txErrors
  }

  /// Every interface in the namespace pinned at `netnsPath`, read inside it (a thread joins the namespace
  /// for this one call). ``PodInterfaceCounters`` answers the same from the host namespace where it can.
  public static func read(netnsPath: String) async throws(CrispError) -> [InterfaceStatistics] {
    try await readIndexed(netnsPath: netnsPath).map { $0.statistics }
  }

  /// Every interface in the namespace with its ifindex there (what a host veth's IFLA_LINK names).
  static func readIndexed(netnsPath: String) async throws(CrispError) -> [(index: Int32, statistics: InterfaceStatistics)] {
    var capacity = 16
    while true {
      let size = capacity
      let (count, entries): (Int32, [crisp_link_stats]) = await onDedicatedThread {
        var buffer = [crisp_link_stats](repeating: crisp_link_stats(), count: size)
        let count = buffer.withUnsafeMutableBufferPointer { crisp_netns_link_stats(netnsPath, $0.baseAddress, Int32(size)) }
        return (count, buffer)
      }
      if count < 0 {
        throw CrispError.internalError("interface statistics of \(netnsPath): \(SystemError("rtnetlink", netnsPath, errno: -count).strerror)")
      }
      if Int(count) > size {
        // A namespace's own processes can add interfaces: the count is theirs to choose, so it is capped.
        guard Int(count) <= Self.interfaceLimit else {
          throw CrispError.internalError("interface statistics of \(netnsPath): \(count) interfaces, over \(Self.interfaceLimit)")
        }
        capacity = Int(count)
        continue
      }
      return entries.prefix(Int(count)).map { entry in
        let name = withUnsafeBytes(of: entry.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return (
          entry.index,
          InterfaceStatistics(name: name, rxBytes: entry.rx_bytes, rxErrors: entry.rx_errors, txBytes: entry.tx_bytes, txErrors: entry.tx_errors)
        )
      }
    }
  }
}
