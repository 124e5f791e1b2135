import CNetlink
public import CrispCore
import Glibc

/// rtnetlink requests from the daemon's own network namespace, on a socket opened per request (no state
/// shared between concurrent callers): the dump of every link with its counters, every link's counters
/// alone, and the id this namespace gives another namespace. Replies are parsed by ``NetlinkMessage``,
/// ``RouteAttribute``, ``HostLink`` and ``LinkCounters``, bounded in size and count.
public enum RouteNetlink {
  /// One datagram; the kernel fills dump datagrams up to 32 KiB.
  static let datagramSize = 128 * 1024
  /// The most links one dump may return, and the most bytes it may take.
  static let linkLimit = 65_536
  static let dumpByteLimit = 64 * 1024 * 1024
  /// How long a reply may take before the request fails.
  static let timeoutMilliseconds: Int32 = 2000
  /// NLM_F_DUMP_INTR: the links changed while the dump ran.
  static let dumpInterrupted: UInt16 = 0x10
  /// RTM_NEWNSID and its NETNSA_NSID attribute.
  static let newNamespaceID: UInt16 = 88
  static let namespaceIDAttribute: UInt16 = 1
  /// `struct rtgenmsg`, padded.
  static let generalHeaderSize = 4

  /// Every link of the daemon's namespace. A dump the kernel marks interrupted (links came or went while
  /// it ran) is taken again, up to three times; the last one is used whatever it says.
  public static func links() throws(CrispError) -> [HostLink] {
    try dump("RTM_GETLINK", request: crisp_rtnl_request_links, messageType: HostLink.messageType) { buffer, payload throws(CrispError) in
      try HostLink(parsing: buffer, payload: payload)
    }
  }

  /// Every link's counters alone (RTM_GETSTATS), retried as ``links()`` is.
  public static func linkCounters() throws(CrispError) -> [LinkCounters] {
    try dump("RTM_GETSTATS", request: crisp_rtnl_request_link_counters, messageType: LinkCounters.messageType) {
      buffer, payload throws(CrispError) in try LinkCounters(parsing: buffer, payload: payload)
    }
  }

  private static func dump<Item>(
    _ name: String, request: (Int32, UInt32) -> Int32, messageType: UInt16,
    decode: (UnsafeRawBufferPointer, Range<Int>) throws(CrispError) -> Item
  ) throws(CrispError) -> [Item] {
    var attempt = 0
    while true {
      attempt += 1
      let (items, interrupted) = try dumpOnce(name, request: request, messageType: messageType, decode: decode)
      if !interrupted || attempt >= 3 { return items }
    }
  }

  /// The id the daemon's namespace gives the namespace pinned at `netnsPath`; nil when it has none (no
  /// link of this namespace refers to it yet).
  public static func namespaceID(netnsPath: String) throws(CrispError) -> Int32? {
    let namespace = open(netnsPath, O_RDONLY | O_CLOEXEC)
    guard namespace >= 0 else { throw CrispError.internalError("rtnetlink: open \(netnsPath): \(reason(-Int64(errno)))") }
    defer { close(namespace) }
    return try withSocket { (socket, buffer) throws(CrispError) -> Int32? in
      let sequence: UInt32 = 1
      try check(crisp_rtnl_request_nsid(socket, sequence, namespace), "RTM_GETNSID")
      // One answer: RTM_NEWNSID or an error. Messages for other sequence numbers are not ours.
      for _ in 0..<16 {
        let datagram = try receive(socket, buffer)
        for message in try NetlinkMessage.messages(in: datagram) where message.sequence == sequence {
          if message.type == NetlinkMessage.error {
            let code = try message.errorCode(in: datagram)
            throw CrispError.internalError("rtnetlink: RTM_GETNSID \(netnsPath): \(reason(Int64(code)))")
          }
          guard message.type == newNamespaceID, message.payload.count >= generalHeaderSize else { continue }
          var id: Int32?
          try RouteAttribute.forEach(in: datagram, range: (message.payload.lowerBound + generalHeaderSize)..<message.payload.upperBound) {
            (attribute) throws(CrispError) in
            if attribute.type == namespaceIDAttribute { id = try HostLink.int32(attribute, in: datagram, "NETNSA_NSID") }
          }
          // NETNSA_NSID_NOT_ASSIGNED is -1.
          guard let id else { throw CrispError.internalError("rtnetlink: RTM_NEWNSID without NETNSA_NSID") }
          return id >= 0 ? id : nil
        }
      }
      throw CrispError.internalError("rtnetlink: no answer to RTM_GETNSID")
    }
  }

  /// One dump: every message of `messageType` decoded, at most ``linkLimit`` of them and ``dumpByteLimit``
  /// bytes in all; `interrupted` when the kernel says the links changed while it ran.
  static func dumpOnce<Item>(
    _ name: String, request: (Int32, UInt32) -> Int32, messageType: UInt16,
    decode: (UnsafeRawBufferPointer, Range<Int>) throws(CrispError) -> Item
  ) throws(CrispError) -> (items: [Item], interrupted: Bool) {
    try withSocket { (socket, buffer) throws(CrispError) -> ([Item], Bool) in
      let sequence: UInt32 = 1
      try check(request(socket, sequence), name)
      var items: [Item] = []
      var interrupted = false
      var total = 0
      while true {
        let datagram = try receive(socket, buffer)
        total += datagram.count
        guard total <= dumpByteLimit else { throw CrispError.internalError("rtnetlink: \(name) dump over \(dumpByteLimit) bytes") }
        for message in try NetlinkMessage.messages(in: datagram) where message.sequence == sequence {
          if message.flags & dumpInterrupted != 0 { interrupted = true }
          switch message.type {
          case NetlinkMessage.done: return (items, interrupted)
          case NetlinkMessage.error:
            let code = try message.errorCode(in: datagram)
            throw CrispError.internalError("rtnetlink: \(name): \(reason(Int64(code)))")
          case messageType:
            guard items.count < linkLimit else { throw CrispError.internalError("rtnetlink: \(name) dump over \(linkLimit) links") }
            items.append(try decode(datagram, message.payload))
          default: continue
          }
        }
      }
    }
  }

  private static func withSocket<T>(
    _ body: (Int32, UnsafeMutableRawBufferPointer) throws(CrispError) -> T
  ) throws(CrispError) -> T {
    let socket = crisp_rtnl_open(timeoutMilliseconds)
    try check(socket, "socket")
    defer { close(socket) }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: datagramSize, alignment: 8)
    defer { buffer.deallocate() }
    return try body(socket, buffer)
  }

  private static func receive(_ socket: Int32, _ buffer: UnsafeMutableRawBufferPointer) throws(CrispError) -> UnsafeRawBufferPointer {
    let received = crisp_rtnl_receive(socket, buffer.baseAddress, UInt(buffer.count))
    guard received >= 0, let length = Int(exactly: received), length <= buffer.count else {
      throw CrispError.internalError("rtnetlink: receive: \(reason(Int64(received)))")
    }
    return UnsafeRawBufferPointer(rebasing: buffer[0..<length])
  }

  /// The text of a negative errno (as the kernel and the C helpers return them); any value is accepted.
  static func reason(_ negative: Int64) -> String {
    String(cString: strerror(Int32(clamping: negative.magnitude)))
  }

  private static func check(_ result: Int32, _ what: String) throws(CrispError) {
    guard result >= 0 else { throw CrispError.internalError("rtnetlink: \(what): \(reason(Int64(result)))") }
  }
}
