public import CrispCore

/// A link of the daemon's own network namespace as an RTM_GETLINK dump describes it: for the host end of
/// a veth pair, where the other end lives (its ifindex in the namespace the kernel names by
/// `peerNamespaceID`), and the counters, which for a veth are the other end's with rx and tx swapped.
public struct HostLink: Sendable, Equatable {
  /// RTM_NEWLINK, the message type of each link in a dump.
  public static let messageType: UInt16 = 16
  /// `struct ifinfomsg`, before the attributes.
  static let headerSize = 16
  static let ifName: UInt16 = 3
  static let ifLink: UInt16 = 5
  static let ifStats: UInt16 = 7
  static let ifLinkInfo: UInt16 = 18
  static let infoKind: UInt16 = 1
  static let ifStats64: UInt16 = 23
  static let ifLinkNetnsID: UInt16 = 37
  /// IFNAMSIZ less the terminator.
  static let nameLimit = 15
  /// The longest link kind accepted ("veth", "bridge", ...).
  static let kindLimit = 64

  public var index: Int32
  public var name: String
  /// IFLA_INFO_KIND: "veth" for the pairs CNI plugins make.
  public var kind: String?
  /// IFLA_LINK: the index of the link this one hangs off (a veth: its peer).
  public var peerIndex: Int32?
  /// IFLA_LINK_NETNSID: the id, in this namespace, of the namespace `peerIndex` is in.
  public var peerNamespaceID: Int32?
  public var rxBytes: UInt64 = 0
  public var rxErrors: UInt64 = 0
  public var txBytes: UInt64 = 0
  public var txErrors: UInt64 = 0

  public init(index: Int32, name: String, kind: String? = nil, peerIndex: Int32? = nil, peerNamespaceID: Int32? = nil) {
    self.index = index
    self.name = name
    self.kind = kind
    self.peerIndex = peerIndex
    self.peerNamespaceID = peerNamespaceID
  }

  /// Decodes the payload of one RTM_NEWLINK message. Unknown attributes are skipped; a known one with a
  /// size other than its structure's (or a name over IFNAMSIZ) is an error, as is any malformed length.
  public init(parsing buffer: UnsafeRawBufferPointer, payload: Range<Int>) throws(CrispError) {
    guard payload.lowerBound >= 0, payload.upperBound <= buffer.count, payload.count >= Self.headerSize else {
      throw CrispError.internalError("rtnetlink: link message of \(payload.count) bytes")
    }
    self.init(index: buffer.loadUnaligned(fromByteOffset: payload.lowerBound + 4, as: Int32.self), name: "")
    var stats32: Range<Int>?
    var stats64: Range<Int>?
    var named = false
    try RouteAttribute.forEach(in: buffer, range: (payload.lowerBound + Self.headerSize)..<payload.upperBound) {
      (attribute) throws(CrispError) in
      switch attribute.type {
      case Self.ifName:
        guard let name = attribute.string(in: buffer, limit: Self.nameLimit) else {
          throw CrispError.internalError("rtnetlink: link \(index) has a name over \(Self.nameLimit) bytes")
        }
        self.name = name
        named = true
      case Self.ifLink:
        peerIndex = try Self.int32(attribute, in: buffer, "IFLA_LINK")
      case Self.ifLinkNetnsID:
        peerNamespaceID = try Self.int32(attribute, in: buffer, "IFLA_LINK_NETNSID")
      case Self.ifStats: stats32 = attribute.value
      case Self.ifStats64: stats64 = attribute.value
      case Self.ifLinkInfo:
        try RouteAttribute.forEach(in: buffer, range: attribute.value) { (info) throws(CrispError) in
          guard info.type == Self.infoKind else { return }
          guard let kind = info.string(in: buffer, limit: Self.kindLimit) else {
            throw CrispError.internalError("rtnetlink: link \(index) has a kind over \(Self.kindLimit) bytes")
          }
          self.kind = kind
        }
      default: break
      }
    }
    guard named else { throw CrispError.internalError("rtnetlink: link \(index) has no name") }
    // struct rtnl_link_stats64 (``LinkCounters/read64(_:_:)``) and the older 32-bit rtnl_link_stats begin
    // with rx_packets, tx_packets, rx_bytes, tx_bytes, rx_errors, tx_errors; only a floor is checked.
    if let range = stats64 {
      var counters = LinkCounters(index: index)
      try counters.read64(buffer, range)
      take(counters)
    } else if let range = stats32 {
      guard range.count >= 24 else { throw CrispError.internalError("rtnetlink: link \(index) IFLA_STATS of \(range.count) bytes") }
      let base = range.lowerBound
      rxBytes = UInt64(buffer.loadUnaligned(fromByteOffset: base + 8, as: UInt32.self))
      txBytes = UInt64(buffer.loadUnaligned(fromByteOffset: base + 12, as: UInt32.self))
      rxErrors = UInt64(buffer.loadUnaligned(fromByteOffset: base + 16, as: UInt32.self))
      txErrors = UInt64(buffer.loadUnaligned(fromByteOffset: base + 20, as: UInt32.self))
    }
  }

  static func int32(_ attribute: RouteAttribute, in buffer: UnsafeRawBufferPointer, _ name: String) throws(CrispError) -> Int32 {
    guard let value = attribute.int32(in: buffer) else {
      throw CrispError.internalError("rtnetlink: \(name) of \(attribute.value.count) bytes, not 4")
    }
    return value
  }

  /// Takes the counters of a later reading of this link (an RTM_GETSTATS dump).
  public mutating func take(_ counters: LinkCounters) {
    (rxBytes, rxErrors, txBytes, txErrors) = (counters.rxBytes, counters.rxErrors, counters.txBytes, counters.txErrors)
  }

  /// The counters as the other end of this veth sees them: what this end received, it sent.
  public func asPeer(named name: String) -> InterfaceStatistics {
    InterfaceStatistics(name: name, rxBytes: txBytes, rxErrors: txErrors, txBytes: rxBytes, txErrors: rxErrors)
  }
}
