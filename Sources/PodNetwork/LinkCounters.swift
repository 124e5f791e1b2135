public import CrispCore

/// One link's counters as an RTM_GETSTATS dump gives them (RTM_NEWSTATS with IFLA_STATS_LINK_64 only):
/// what a stats pass needs of each host link once it knows which link is which pod's peer, at a small
/// part of the kernel's cost of a full link description (which fills bridge-port, IPv6 and device
/// attributes per link: with 110 pods that dump was about 1.5 ms of each ListPodSandboxStats).
public struct LinkCounters: Sendable, Equatable {
  /// RTM_NEWSTATS, the message type of each link in the dump.
  public static let messageType: UInt16 = 92
  /// `struct if_stats_msg`, before the attributes.
  static let headerSize = 12
  /// IFLA_STATS_LINK_64: a `struct rtnl_link_stats64`.
  static let link64: UInt16 = 1

  public var index: Int32
  public var rxBytes: UInt64 = 0
  public var rxErrors: UInt64 = 0
  public var txBytes: UInt64 = 0
  public var txErrors: UInt64 = 0

  public init(index: Int32, rxBytes: UInt64 = 0, rxErrors: UInt64 = 0, txBytes: UInt64 = 0, txErrors: UInt64 = 0) {
    self.index = index
    self.rxBytes = rxBytes
    self.rxErrors = rxErrors
    self.txBytes = txBytes
    self.txErrors = txErrors
  }

  /// Decodes the payload of one RTM_NEWSTATS message. A message without IFLA_STATS_LINK_64 (which was
  /// asked for), one of the wrong size, or any malformed length is an error: the caller then describes the
  /// links in full rather than report zeros.
  public init(parsing buffer: UnsafeRawBufferPointer, payload: Range<Int>) throws(CrispError) {
    guard payload.lowerBound >= 0, payload.upperBound <= buffer.count, payload.count >= Self.headerSize else {
      throw CrispError.internalError("rtnetlink: stats message of \(payload.count) bytes")
    }
    self.init(index: buffer.loadUnaligned(fromByteOffset: payload.lowerBound + 4, as: Int32.self))
    var stats64: Range<Int>?
    try RouteAttribute.forEach(in: buffer, range: (payload.lowerBound + Self.headerSize)..<payload.upperBound) {
      (attribute) throws(CrispError) in
      if attribute.type == Self.link64 { stats64 = attribute.value }
    }
    guard let stats64 else { throw CrispError.internalError("rtnetlink: link \(index) stats without IFLA_STATS_LINK_64") }
    try read64(buffer, stats64)
  }

  /// Reads a `struct rtnl_link_stats64`: rx_packets, tx_packets, rx_bytes, tx_bytes, rx_errors, tx_errors
  /// come first; newer kernels append fields, so only a floor is checked.
  mutating func read64(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(CrispError) {
    guard range.count >= 48, range.lowerBound >= 0, range.upperBound <= buffer.count else {
      throw CrispError.internalError("rtnetlink: link \(index) 64-bit stats of \(range.count) bytes")
    }
    let base = range.lowerBound
    rxBytes = buffer.loadUnaligned(fromByteOffset: base + 16, as: UInt64.self)
    txBytes = buffer.loadUnaligned(fromByteOffset: base + 24, as: UInt64.self)
    rxErrors = buffer.loadUnaligned(fromByteOffset: base + 32, as: UInt64.self)
    txErrors = buffer.loadUnaligned(fromByteOffset: base + 40, as: UInt64.self)
  }
}
