/// Users and groups from an image's /etc/passwd and /etc/group.
public enum ImageAccounts {
  public struct User: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
  }

  /// Looks `name` up in `<rootfs>/etc/passwd`.
  public static func user(named name: String, rootfs: String) -> User? {
    ImageAccountFiles(rootfs: rootfs).user(named: name).map { User(uid: $0.id, gid: $0.gid) }
  }

  /// The name (when it is UTF-8) and primary gid of `uid`.
  public static func user(uid: UInt32, rootfs: String) -> (name: String?, gid: UInt32)? {
    guard let passwd = RootfsFile.readBytes(rootfs: rootfs, path: "/etc/passwd") else { return nil }
    return AccountEntry.entries(passwd, group: false).first { $0.id == uid }.map { ($0.nameText, $0.gid) }
  }

  /// The home directory of `uid` in `<rootfs>/etc/passwd`.
  public static func home(uid: UInt32, rootfs: String) -> String? {
    guard let passwd = RootfsFile.readBytes(rootfs: rootfs, path: "/etc/passwd") else { return nil }
    for entry in AccountEntry.entries(passwd, group: false) where entry.id == uid && !entry.home.isEmpty {
      return String(validating: entry.home, as: UTF8.self)
    }
    return nil
  }

  /// Groups listing `user` as a member in `<rootfs>/etc/group`.
  public static func groups(of user: String, rootfs: String) -> [UInt32] {
    guard let group = RootfsFile.readBytes(rootfs: rootfs, path: "/etc/group") else { return [] }
    let wanted = Array(user.utf8)
    return AccountEntry.entries(group, group: true).filter { $0.members.contains(wanted) }.map(\.id)
  }
}
