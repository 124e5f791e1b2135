import CrispCore
@testable import PodNetwork
import Testing

/// rtnetlink replies decoded from crafted bytes: well-formed link messages, and every way a length can lie
/// (short, past the end, below the header, oversized values) failing with an error, never a trap.
@Suite struct RouteNetlinkParsingTests {
  static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
  static func padded(_ bytes: [UInt8]) -> [UInt8] { bytes + [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4) }

  /// An attribute with its true length, padded to 4 bytes.
  static func attribute(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
    padded(le(UInt16(4 + value.count)) + le(type) + value)
  }
  static func name(_ text: String) -> [UInt8] { Array(text.utf8) + [0] }
  static func stats64(rxBytes: UInt64, txBytes: UInt64, rxErrors: UInt64, txErrors: UInt64, extra: Int = 0) -> [UInt8] {
    le(UInt64(7)) + le(UInt64(9)) + le(rxBytes) + le(txBytes) + le(rxErrors) + le(txErrors) + [UInt8](repeating: 0xEE, count: extra)
  }
  /// `struct ifinfomsg` for link `index`, then the attributes.
  static func linkPayload(index: Int32, _ attributes: [[UInt8]]) -> [UInt8] {
    [0, 0] + le(UInt16(1)) + le(index) + le(UInt32(0x1043)) + le(UInt32(0)) + attributes.flatMap { $0 }
  }
  static func message(_ type: UInt16, flags: UInt16 = 2, sequence: UInt32 = 1, _ payload: [UInt8]) -> [UInt8] {
    padded(le(UInt32(16 + payload.count)) + le(type) + le(flags) + le(sequence) + le(UInt32(0)) + payload)
  }
  static func vethPayload(index: Int32 = 7, peer: Int32 = 2, namespace: Int32 = 4) -> [UInt8] {
    linkPayload(index: index, vethAttributes(peer: peer, namespace: namespace))
  }
  static func vethAttributes(peer: Int32 = 2, namespace: Int32 = 4) -> [[UInt8]] {
    [
      attribute(HostLink.ifName, name("veth1a2b3c4d")),
      attribute(HostLink.ifLink, le(peer)),
      attribute(HostLink.ifLinkNetnsID, le(namespace)),
      // Nested, as the kernel marks it (NLA_F_NESTED); the flag is not part of the type.
      attribute(HostLink.ifLinkInfo | 0x8000, attribute(HostLink.infoKind, name("veth"))),
      attribute(HostLink.ifStats, [UInt8](repeating: 0xFF, count: 92)),
      attribute(HostLink.ifStats64, stats64(rxBytes: 1000, txBytes: 2000, rxErrors: 3, txErrors: 4, extra: 152)),
    ]
  }

  static func parse(_ payload: [UInt8]) throws -> HostLink {
    try payload.withUnsafeBytes { buffer in try HostLink(parsing: buffer, payload: 0..<buffer.count) }
  }
  static func messages(_ datagram: [UInt8]) throws -> [NetlinkMessage] {
    try datagram.withUnsafeBytes { buffer in try NetlinkMessage.messages(in: buffer) }
  }
  static func rejects(_ payload: [UInt8], _ words: String) {
    do {
      _ = try parse(payload)
      Issue.record("accepted: \(words)")
    } catch {
      #expect((error as? CrispError)?.message.contains(words) == true, "\(error)")
    }
  }

  @Test func vethLinkDecodes() throws {
    let link = try Self.parse(Self.vethPayload())
    #expect(link.index == 7)
    #expect(link.name == "veth1a2b3c4d")
    #expect(link.kind == "veth")
    #expect(link.peerIndex == 2)
    #expect(link.peerNamespaceID == 4)
    #expect([link.rxBytes, link.txBytes, link.rxErrors, link.txErrors] == [1000, 2000, 3, 4])
    // The pod end sent what the host end received.
    let pod = link.asPeer(named: "eth0")
    #expect(pod == InterfaceStatistics(name: "eth0", rxBytes: 2000, rxErrors: 4, txBytes: 1000, txErrors: 3))
  }

  @Test func olderKernelsThirtyTwoBitCounters() throws {
    let stats = [7, 9, 1000, 2000, 3, 4].flatMap { Self.le(UInt32($0)) } + [UInt8](repeating: 0, count: 68)
    let link = try Self.parse(
      Self.linkPayload(index: 1, [Self.attribute(HostLink.ifName, Self.name("lo")), Self.attribute(HostLink.ifStats, stats)]))
    #expect([link.rxBytes, link.txBytes, link.rxErrors, link.txErrors] == [1000, 2000, 3, 4])
    #expect(link.kind == nil && link.peerIndex == nil && link.peerNamespaceID == nil)
  }

  @Test func badAttributesAreErrors() {
    let good = Self.attribute(HostLink.ifName, Self.name("eth0"))
    // Length past the message's end.
    Self.rejects(Self.linkPayload(index: 1, [good, Self.le(UInt16(200)) + Self.le(HostLink.ifLink) + Self.le(Int32(2))]), "outside")
    // Lengths below the header, 0 among them (a walker that trusted it would never move).
    for length: UInt16 in [0, 1, 3] {
      Self.rejects(Self.linkPayload(index: 1, [good, Self.le(length) + Self.le(HostLink.ifLink) + Self.le(Int32(2))]), "outside")
    }
    // A header cut short.
    Self.rejects(Self.linkPayload(index: 1, [good, [8, 0]]), "stray bytes")
    // Values of the wrong size.
    Self.rejects(Self.linkPayload(index: 1, [good, Self.attribute(HostLink.ifLink, Self.le(UInt16(2)))]), "IFLA_LINK of 2 bytes")
    Self.rejects(
      Self.linkPayload(index: 1, [good, Self.attribute(HostLink.ifLinkNetnsID, Self.le(UInt64(2)))]), "IFLA_LINK_NETNSID of 8 bytes")
    Self.rejects(Self.linkPayload(index: 1, [good, Self.attribute(HostLink.ifStats64, [UInt8](repeating: 1, count: 40))]), "64-bit stats of 40")
    Self.rejects(Self.linkPayload(index: 1, [good, Self.attribute(HostLink.ifStats, [UInt8](repeating: 1, count: 20))]), "IFLA_STATS of 20")
    // Names: longer than IFNAMSIZ (with or without a terminator), or missing.
    Self.rejects(Self.linkPayload(index: 1, [Self.attribute(HostLink.ifName, Array(repeating: 0x61, count: 40))]), "name over 15")
    Self.rejects(Self.linkPayload(index: 1, [Self.attribute(HostLink.ifName, Self.name(String(repeating: "a", count: 16)))]), "name over 15")
    Self.rejects(
      Self.linkPayload(index: 1, [Self.attribute(HostLink.ifLinkInfo, Self.attribute(HostLink.infoKind, Array(repeating: 0x61, count: 100)))]),
      "kind over 64")
    Self.rejects(Self.linkPayload(index: 1, [Self.attribute(HostLink.ifLink, Self.le(Int32(3)))]), "no name")
    // A nested attribute whose inner length runs past the outer one.
    Self.rejects(
      Self.linkPayload(index: 1, [good, Self.attribute(HostLink.ifLinkInfo, Self.le(UInt16(12)) + Self.le(HostLink.infoKind) + [0x76, 0])]), "outside"
    )
    // Shorter than ifinfomsg.
    Self.rejects([0, 0, 1, 0, 7, 0], "link message of 6 bytes")
  }

  @Test func exactFifteenByteNameWithoutTerminatorIsAccepted() throws {
    let link = try Self.parse(Self.linkPayload(index: 3, [Self.attribute(HostLink.ifName, Array("abcdefghijklmno".utf8))]))
    #expect(link.name == "abcdefghijklmno")
  }

  /// Every cut of a link message: a cut that ends a whole attribute (at its true length or anywhere in its
  /// padding) is the link with exactly the attributes before it; any other cut is an error naming the short
  /// part, never a trap and never a link with made-up values.
  @Test func everyCutOfAMessageIsAnErrorOrAShorterLink() throws {
    let payload = Self.vethPayload()
    let attributes = Self.vethAttributes()
    // After attribute k: ends[k] is where its value ends, ends[k] up to its padded end is a whole cut.
    var whole: [Int: Int] = [:]
    var start = HostLink.headerSize
    for (k, attribute) in attributes.enumerated() {
      let length = Int(attribute[0]) | Int(attribute[1]) << 8
      for end in (start + length)...(start + attribute.count) { whole[end] = k }
      start += attribute.count
    }
    #expect(start == payload.count)
    var links = 0
    for end in 0...payload.count {
      let cut = Array(payload[0..<end])
      guard let k = whole[end] else {
        #expect(throws: CrispError.self, "cut at \(end)") { try Self.parse(cut) }
        continue
      }
      let link = try Self.parse(cut)
      links += 1
      #expect(link.index == 7 && link.name == "veth1a2b3c4d", "cut at \(end)")
      #expect(link.peerIndex == (k >= 1 ? 2 : nil), "cut at \(end)")
      #expect(link.peerNamespaceID == (k >= 2 ? 4 : nil), "cut at \(end)")
      #expect(link.kind == (k >= 3 ? "veth" : nil), "cut at \(end)")
      let counters: [UInt64] = k >= 5 ? [1000, 2000, 3, 4] : k == 4 ? Array(repeating: 0xFFFF_FFFF, count: 4) : [0, 0, 0, 0]
      #expect([link.rxBytes, link.txBytes, link.rxErrors, link.txErrors] == counters, "cut at \(end)")
    }
    // One link per whole cut: the six attributes, each with its padding positions.
    #expect(links == whole.count)

    // A datagram of two link messages: cut at the end of the first (or in its padding), exactly one message;
    // empty, none; anywhere else, an error.
    let first = Self.message(HostLink.messageType, Self.vethPayload(index: 7))
    let datagram = first + Self.message(HostLink.messageType, sequence: 2, Self.vethPayload(index: 8))
    for end in 0...datagram.count {
      let cut = Array(datagram[0..<end])
      switch end {
      case 0:
        #expect(try Self.messages(cut).isEmpty)
      case first.count, datagram.count:
        let split = try Self.messages(cut)
        #expect(split.count == (end == first.count ? 1 : 2), "cut at \(end)")
        let indexes = try cut.withUnsafeBytes { buffer in try split.map { try HostLink(parsing: buffer, payload: $0.payload).index } }
        #expect(indexes == Array([7, 8].prefix(split.count)), "cut at \(end)")
      default:
        #expect(throws: CrispError.self, "cut at \(end)") { try Self.messages(cut) }
      }
    }
  }

  @Test func datagramsSplitIntoMessages() throws {
    let first = Self.message(HostLink.messageType, Self.vethPayload())
    let done = Self.message(NetlinkMessage.done, flags: 2 | 0x10, sequence: 9, Self.le(Int32(0)) + [1, 2, 3])
    let split = try Self.messages(first + done)
    #expect(split.count == 2)
    #expect(split[0].type == HostLink.messageType && split[0].sequence == 1 && split[0].payload == 16..<first.count)
    #expect(split[1].type == NetlinkMessage.done && split[1].flags == 0x12 && split[1].sequence == 9)
    // The payload ends at the message's own length, before its padding.
    #expect(split[1].payload.count == 7)
    // The last message's padding may be missing.
    #expect(try Self.messages(Array((first + done).dropLast())).count == 2)
    let error = Self.message(NetlinkMessage.error, Self.le(Int32(-1)) + [UInt8](repeating: 0, count: 16))
    let code = try error.withUnsafeBytes { buffer in try NetlinkMessage.messages(in: buffer)[0].errorCode(in: buffer) }
    #expect(code == -1)
  }

  @Test func badMessageLengthsAreErrors() {
    let good = Self.message(NetlinkMessage.done, Self.le(Int32(0)))
    for (datagram, words) in [
      (good + Self.le(UInt32(4096)) + Array(good.dropFirst(4)), "outside"),
      (good + Self.le(UInt32(8)) + Array(good.dropFirst(4)), "outside"),
      (good + Self.le(UInt32(0)) + Array(good.dropFirst(4)), "outside"),
      (good + [1, 2, 3, 4, 5], "stray bytes"),
    ] {
      do {
        _ = try Self.messages(datagram)
        Issue.record("accepted: \(datagram)")
      } catch {
        #expect((error as? CrispError)?.message.contains(words) == true, "\(error)")
      }
    }
    #expect(throws: CrispError.self) {
      try Self.message(NetlinkMessage.error, [1, 2]).withUnsafeBytes { buffer in
        _ = try NetlinkMessage.messages(in: buffer)[0].errorCode(in: buffer)
      }
    }
  }

  @Test func attributeValuesOutsideTheBufferAreNil() {
    let bytes: [UInt8] = [1, 2, 3, 4]
    bytes.withUnsafeBytes { buffer in
      #expect(RouteAttribute(type: 1, value: 2..<6).int32(in: buffer) == nil)
      #expect(RouteAttribute(type: 1, value: 0..<9).string(in: buffer, limit: 15) == nil)
      #expect(RouteAttribute(type: 1, value: 0..<4).int32(in: buffer) == Int32(littleEndian: 0x0403_0201))
    }
    #expect(throws: CrispError.self) {
      try bytes.withUnsafeBytes { buffer in try RouteAttribute.forEach(in: buffer, range: 0..<8) { _ in } }
    }
  }

  @Test func hostTableKeepsVethPeersInOtherNamespaces() {
    var veth = HostLink(index: 7, name: "veth1", kind: "veth", peerIndex: 2, peerNamespaceID: 4)
    veth.rxBytes = 10
    let table = HostLinkTable([
      veth,
      HostLink(index: 8, name: "veth2", kind: "veth", peerIndex: 3, peerNamespaceID: 5),
      // A veth with both ends here, a macvlan over a link elsewhere, a bridge: none is a pod's peer.
      HostLink(index: 9, name: "veth3", kind: "veth", peerIndex: 10),
      HostLink(index: 11, name: "mv0", kind: "macvlan", peerIndex: 2, peerNamespaceID: 4),
      HostLink(index: 12, name: "cni0", kind: "bridge"),
    ])
    #expect(table.peers(inNamespace: 4) == [2: veth])
    #expect(table.peers(inNamespace: 5).keys.sorted() == [3])
    #expect(table.peers(inNamespace: 6).isEmpty)
  }
}
