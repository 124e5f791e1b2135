import SwiftProtobuf

/// A list response whose one field is its repeated entries (field 1: ListPodSandboxStatsResponse.stats,
/// ListContainerStatsResponse.stats), put together from entries encoded apart.
///
/// On the wire each entry is the field's key, the entry's length and its bytes: exactly what the
/// response's own encoding writes, so the entries can be encoded inside the stats pass, on every core,
/// instead of all at once on one thread after it. That encoding was a quarter of ListPodSandboxStats with
/// 110 pods: swift-protobuf sizes a nested message once for every level above it, and a pod's container
/// counters sit five levels deep.
enum EncodedList {
  /// Field 1, length-delimited: (1 << 3) | 2.
  static let key: UInt8 = 0x0A

  /// `message` as one entry of the list (an encoding failure is kept for the response to throw).
  static func entry(_ message: some Message) -> Result<[UInt8], any Error> {
    Result {
      let body: [UInt8] = try message.serializedBytes()
      var bytes: [UInt8] = []
      bytes.reserveCapacity(body.count + 11)
      bytes.append(key)
      var length = UInt64(body.count)
      while length >= 0x80 {
        bytes.append(UInt8(truncatingIfNeeded: length) | 0x80)
        length >>= 7
      }
      bytes.append(UInt8(truncatingIfNeeded: length))
      bytes.append(contentsOf: body)
      return bytes
    }
  }

  /// The response: its entries one after another, in order.
  static func response(_ entries: [Result<[UInt8], any Error>]) throws -> [UInt8] {
    var parts: [[UInt8]] = []
    parts.reserveCapacity(entries.count)
    for entry in entries { parts.append(try entry.get()) }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(parts.reduce(0) { $0 + $1.count })
    for part in parts { bytes.append(contentsOf: part) }
    return bytes
  }
}
