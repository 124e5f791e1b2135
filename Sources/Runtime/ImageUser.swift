public import CrispCore

/// One line of an image's /etc/passwd or /etc/group, read from raw bytes: the files belong to the image, so
/// a line may have too few fields, numbers out of range or names that are not UTF-8. Such lines are skipped,
/// never repaired (a repaired name would match a user the file does not have).
public struct AccountEntry: Sendable, Equatable {
  /// The name's bytes exactly as in the file.
  public var name: [UInt8]
  /// uid for a passwd line, gid for a group line.
  public var id: UInt32
  /// passwd: the primary gid. group: unused (0).
  public var gid: UInt32
  /// passwd: the home directory (may be empty). group: unused.
  public var home: [UInt8]
  /// group: member names. passwd: unused.
  public var members: [[UInt8]]

  /// The name as text, nil when it is not UTF-8.
  public var nameText: String? { String(validating: name, as: UTF8.self) }

  /// `name:password:uid:gid[:gecos:home[:shell]]`; nil for a line without four fields or with bad numbers.
  public static func passwd(_ line: ArraySlice<UInt8>) -> AccountEntry? {
    let fields = line.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
    guard fields.count >= 4, let name = fields.first, !name.isEmpty,
      let uid = ImageUser.decimal(fields[2]), let gid = ImageUser.decimal(fields[3])
    else { return nil }
    let home = fields.count >= 6 ? Array(fields[5]) : []
    return AccountEntry(name: Array(name), id: uid, gid: gid, home: home, members: [])
  }

  /// `name:password:gid[:member,member…]`; nil for a line without three fields or with a bad number.
  public static func group(_ line: ArraySlice<UInt8>) -> AccountEntry? {
    let fields = line.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
    guard fields.count >= 3, let name = fields.first, !name.isEmpty, let gid = ImageUser.decimal(fields[2]) else { return nil }
    let members = fields.count >= 4 ? fields[3].split(separator: UInt8(ascii: ",")).map { Array($0) } : []
    return AccountEntry(name: Array(name), id: gid, gid: 0, home: [], members: members)
  }

  /// Every well-formed line of a passwd (or group) file.
  public static func entries(_ bytes: [UInt8], group: Bool) -> [AccountEntry] {
    bytes.split(separator: UInt8(ascii: "\n")).compactMap { group ? Self.group($0) : passwd($0) }
  }
}

/// The accounts an image defines: its /etc/passwd and /etc/group as bytes, nil when the image has no such
/// file (or it is not a regular file within the size limit).
public struct ImageAccountFiles: Sendable {
  public var passwd: [UInt8]?
  public var group: [UInt8]?

  public init(passwd: [UInt8]?, group: [UInt8]?) {
    self.passwd = passwd
    self.group = group
  }

  /// Reads both files inside `rootfs`, resolving paths as the container would.
  public init(rootfs: String) {
    passwd = RootfsFile.readBytes(rootfs: rootfs, path: "/etc/passwd")
    group = RootfsFile.readBytes(rootfs: rootfs, path: "/etc/group")
  }

  func user(named name: String) -> AccountEntry? {
    guard let passwd else { return nil }
    let wanted = Array(name.utf8)
    return AccountEntry.entries(passwd, group: false).first { $0.name == wanted }
  }

  func user(uid: UInt32) -> AccountEntry? {
    guard let passwd else { return nil }
    return AccountEntry.entries(passwd, group: false).first { $0.id == uid }
  }

  func group(named name: String) -> AccountEntry? {
    guard let group else { return nil }
    let wanted = Array(name.utf8)
    return AccountEntry.entries(group, group: true).first { $0.name == wanted }
  }
}

/// An image's `USER` (`user[:group]`, each a decimal id or a name looked up in the image's own /etc/passwd
/// and /etc/group), as docker and containerd read it. The value comes from whoever built the image, so
/// anything that is not exactly that shape is refused with an error naming the image and the field rather
/// than guessed at: an empty user or group part (`":"`, `"a:"`, `":b"`), more than one `:`, an id past
/// 2^32-1, or a name the image does not define.
public enum ImageUser {
  public struct Resolved: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// The user's name when the image's /etc/passwd has one (used to merge its supplementary groups).
    public var name: String?

    public init(uid: UInt32, gid: UInt32, name: String? = nil) {
      self.uid = uid
      self.gid = gid
      self.name = name
    }
  }

  /// Resolves `value`; `field` names it in errors (e.g. `image "busybox:1" config.User`). An empty value
  /// is root (uid 0, gid 0), as for an image without USER.
  public static func resolve(_ value: String, field: String, accounts: ImageAccountFiles) throws(CrispError) -> Resolved {
    guard !value.isEmpty else { return Resolved(uid: 0, gid: 0, name: accounts.user(uid: 0)?.nameText) }
    func invalid(_ why: String) -> CrispError { .invalidArgument("\(field) \"\(value)\": \(why)") }
    let parts = value.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count <= 2 else { throw invalid("expected user or user:group, found more than one ':'") }
    guard let userPart = parts.first, !userPart.isEmpty else { throw invalid("the user part is empty") }
    if parts.count == 2, parts[1].isEmpty { throw invalid("the group part after ':' is empty") }
    var result: Resolved
    if isDecimal(userPart.utf8) {
      guard let uid = decimal(userPart.utf8) else { throw invalid("user id \(userPart) is out of range (0 to \(UInt32.max))") }
      let entry = accounts.user(uid: uid)
      result = Resolved(uid: uid, gid: entry?.gid ?? 0, name: entry?.nameText)
    } else {
      guard accounts.passwd != nil else { throw invalid("user \"\(userPart)\" cannot be looked up: the image has no /etc/passwd") }
      guard let entry = accounts.user(named: String(userPart)) else { throw invalid("no user \"\(userPart)\" in the image's /etc/passwd") }
      result = Resolved(uid: entry.id, gid: entry.gid, name: String(userPart))
    }
    if parts.count == 2 {
      let groupPart = parts[1]
      if isDecimal(groupPart.utf8) {
        guard let gid = decimal(groupPart.utf8) else { throw invalid("group id \(groupPart) is out of range (0 to \(UInt32.max))") }
        result.gid = gid
      } else {
        guard accounts.group != nil else { throw invalid("group \"\(groupPart)\" cannot be looked up: the image has no /etc/group") }
        guard let entry = accounts.group(named: String(groupPart)) else { throw invalid("no group \"\(groupPart)\" in the image's /etc/group") }
        result.gid = entry.id
      }
    }
    return result
  }

  /// True when `bytes` is one or more ASCII digits.
  static func isDecimal<C: Collection<UInt8>>(_ bytes: C) -> Bool {
    !bytes.isEmpty && bytes.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
  }

  /// A decimal number of ASCII digits only (no sign, no spaces), nil when empty, not digits or past UInt32.
  public static func decimal<C: Collection<UInt8>>(_ bytes: C) -> UInt32? {
    guard isDecimal(bytes) else { return nil }
    var value: UInt32 = 0
    for byte in bytes {
      let (times, overflow) = value.multipliedReportingOverflow(by: 10)
      let (sum, carry) = times.addingReportingOverflow(UInt32(byte - UInt8(ascii: "0")))
      guard !overflow, !carry else { return nil }
      value = sum
    }
    return value
  }
}
