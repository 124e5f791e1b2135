/// A released CDI spec version. crisp reads 0.3.0 (the earliest the CDI project still accepts) through
/// ``current``; each later version only adds fields, and a spec using a field newer than the version it
/// declares is refused, as the reference implementation refuses it.
public struct CDIVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
  public let major: Int
  public let minor: Int
  public let patch: Int

  /// 0.4.0: mount `type`.
  public static let mountType = CDIVersion(0, 4, 0)
  /// 0.5.0: device node `hostPath`, device names starting with a digit.
  public static let hostPathAndDigitNames = CDIVersion(0, 5, 0)
  /// 0.6.0: spec and device `annotations`, dots in the class name.
  public static let specAnnotations = CDIVersion(0, 6, 0)
  /// 0.7.0: `additionalGids`, `intelRdt`.
  public static let additionalGroups = CDIVersion(0, 7, 0)
  /// 1.1.0: `netDevices`, `intelRdt.schemata` and `enableMonitoring`.
  public static let netDevices = CDIVersion(1, 1, 0)
  /// The newest version crisp knows.
  public static let current = netDevices

  /// Every version crisp accepts, oldest first (0.8.0 and 1.0.0 changed only the Go library).
  public static let supported: [CDIVersion] = [
    CDIVersion(0, 3, 0), mountType, hostPathAndDigitNames, specAnnotations, additionalGroups, CDIVersion(0, 8, 0), CDIVersion(1, 0, 0), netDevices,
  ]

  init(_ major: Int, _ minor: Int, _ patch: Int) {
    self.major = major
    self.minor = minor
    self.patch = patch
  }

  /// A supported version from its text (`0.6.0`, also with a leading `v`); nil for anything else.
  public init?(_ text: String) {
    let digits = text.hasPrefix("v") ? text.dropFirst() : Substring(text)
    let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }),
      let major = Int(parts[0]), let minor = Int(parts[1]), let patch = Int(parts[2])
    else { return nil }
    let version = CDIVersion(major, minor, patch)
    guard Self.supported.contains(version) else { return nil }
    self = version
  }

  public var description: String { "\(major).\(minor).\(patch)" }

  public static func < (lhs: CDIVersion, rhs: CDIVersion) -> Bool {
    (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
  }
}
