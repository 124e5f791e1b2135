public import CrispCore

/// One message of a netlink datagram: the header fields crisp acts on and where the payload lies in the
/// datagram. The kernel writes these, but every length is checked before it is trusted: a length that
/// points past the datagram or below the header is an error, never a read out of bounds.
public struct NetlinkMessage: Sendable, Equatable {
  /// NLMSG_ERROR: an errno (negative) answering a request; 0 is an acknowledgement.
  public static let error: UInt16 = 2
  /// NLMSG_DONE: the end of a dump.
  public static let done: UInt16 = 3
  /// The size of `struct nlmsghdr`.
  public static let headerSize = 16

  public var type: UInt16
  public var flags: UInt16
  public var sequence: UInt32
  /// Offsets of the payload (after the header, without the padding after it) within the datagram.
  public var payload: Range<Int>

  public init(type: UInt16, flags: UInt16, sequence: UInt32, payload: Range<Int>) {
    self.type = type
    self.flags = flags
    self.sequence = sequence
    self.payload = payload
  }

  /// The messages of one datagram, in order. Each message's length must cover its header and stay within
  /// the datagram; messages are 4-byte aligned (the padding of the last one may be missing).
  public static func messages(in datagram: UnsafeRawBufferPointer) throws(CrispError) -> [NetlinkMessage] {
    var result: [NetlinkMessage] = []
    var offset = 0
    while offset < datagram.count {
      let left = datagram.count - offset
      guard left >= headerSize else { throw CrispError.internalError("rtnetlink: \(left) stray bytes after the last message") }
      let length = Int(datagram.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
      guard length >= headerSize, length <= left else {
        throw CrispError.internalError("rtnetlink: message length \(length) at offset \(offset) outside the \(datagram.count)-byte datagram")
      }
      result.append(
        NetlinkMessage(
          type: datagram.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self),
          flags: datagram.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self),
          sequence: datagram.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self),
          payload: (offset + headerSize)..<(offset + length)))
      // length <= left, so the aligned step stays within the datagram's size plus 3.
      offset += (length + 3) & ~3
    }
    return result
  }

  /// The errno an NLMSG_ERROR message carries (0 for an acknowledgement).
  public func errorCode(in datagram: UnsafeRawBufferPointer) throws(CrispError) -> Int32 {
    guard payload.count >= 4 else { throw CrispError.internalError("rtnetlink: error message of \(payload.count) bytes") }
    return datagram.loadUnaligned(fromByteOffset: payload.lowerBound, as: Int32.self)
  }
}
