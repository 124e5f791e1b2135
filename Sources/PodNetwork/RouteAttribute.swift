public import CrispCore

/// One rtnetlink attribute (`struct rtattr`/`nlattr`): its type (without the nested and byte-order flags)
/// and where its value lies in the buffer. Lengths come from the kernel and are checked like any input.
public struct RouteAttribute: Sendable, Equatable {
  /// The size of the attribute header.
  public static let headerSize = 4

  public var type: UInt16
  public var value: Range<Int>

  public init(type: UInt16, value: Range<Int>) {
    self.type = type
    self.value = value
  }

  /// Calls `body` with each attribute in `range` of `buffer`, in order. An attribute whose length is
  /// below its header or runs past the range is an error; so are stray bytes after the last one. The
  /// walk is a loop over the range and ends: every step moves forward by at least a header.
  public static func forEach(
    in buffer: UnsafeRawBufferPointer, range: Range<Int>, _ body: (RouteAttribute) throws(CrispError) -> Void
  ) throws(CrispError) {
    guard range.lowerBound >= 0, range.upperBound <= buffer.count else {
      throw CrispError.internalError("rtnetlink: attributes \(range) outside the \(buffer.count)-byte buffer")
    }
    var offset = range.lowerBound
    while offset < range.upperBound {
      let left = range.upperBound - offset
      guard left >= headerSize else { throw CrispError.internalError("rtnetlink: \(left) stray bytes after the last attribute") }
      let length = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
      guard length >= headerSize, length <= left else {
        throw CrispError.internalError("rtnetlink: attribute length \(length) at offset \(offset) outside its \(left) bytes")
      }
      // Bit 15 marks a nested attribute, bit 14 network byte order: neither is part of the type.
      let type = buffer.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3FFF
      try body(RouteAttribute(type: type, value: (offset + headerSize)..<(offset + length)))
      offset += (length + 3) & ~3
    }
  }

  /// The value as a 32-bit integer; nil unless it is exactly 4 bytes.
  public func int32(in buffer: UnsafeRawBufferPointer) -> Int32? {
    guard value.lowerBound >= 0, value.upperBound <= buffer.count else { return nil }
    return value.count == 4 ? buffer.loadUnaligned(fromByteOffset: value.lowerBound, as: Int32.self) : nil
  }

  /// The value as a NUL-terminated string of at most `limit` bytes (the terminator may be missing);
  /// nil when longer.
  public func string(in buffer: UnsafeRawBufferPointer, limit: Int) -> String? {
    guard value.lowerBound >= 0, value.upperBound <= buffer.count else { return nil }
    let bytes = UnsafeRawBufferPointer(rebasing: buffer[value])
    let text = bytes.prefix { $0 != 0 }
    guard text.count <= limit else { return nil }
    return String(decoding: text, as: UTF8.self)
  }
}
