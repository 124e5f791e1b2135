/// Bytes and inodes added up, as usage accounting keeps them.
///
/// The numbers come from the filesystem (a blob's blocks, a walk of a layer) and are added and removed many
/// times over a node's life: a sum past `Int64.max` stays there and a removal never takes it below zero, so
/// a miscounted entry can skew the total but never trap or report negative usage to kubelet.
public struct UsageTotals: Sendable, Equatable, CustomStringConvertible {
  public private(set) var bytes: Int64 = 0
  public private(set) var inodes: Int64 = 0

  /// Negative inputs count as zero.
  public init(bytes: Int64 = 0, inodes: Int64 = 0) {
    self.bytes = max(0, bytes)
    self.inodes = max(0, inodes)
  }

  /// Adds `other` (saturating at `Int64.max`).
  public mutating func add(_ other: UsageTotals) {
    bytes = Self.adding(bytes, other.bytes)
    inodes = Self.adding(inodes, other.inodes)
  }

  /// Takes `other` away (never below zero).
  public mutating func remove(_ other: UsageTotals) {
    bytes = Self.subtracting(bytes, other.bytes)
    inodes = Self.subtracting(inodes, other.inodes)
  }

  public static func + (lhs: UsageTotals, rhs: UsageTotals) -> UsageTotals {
    var sum = lhs
    sum.add(rhs)
    return sum
  }

  public var description: String { "\(bytes) B, \(inodes) inodes" }

  /// Both are never negative (the initializer clamps them), so only the upper end can overflow.
  static func adding(_ a: Int64, _ b: Int64) -> Int64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? Int64.max : sum
  }

  static func subtracting(_ a: Int64, _ b: Int64) -> Int64 { b >= a ? 0 : a - b }
}
