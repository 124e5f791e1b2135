public import CrispCore

/// Decides a container's AppArmor profile from what the pod asked, before anything is made, as containerd
/// and CRI-O do: unset and RuntimeDefault mean crisp's default profile, Unconfined means none, Localhost
/// names a profile that must already be loaded. A privileged container without a profile of its own runs
/// unconfined. With AppArmor off on the node a default means nothing to apply, and a named profile cannot
/// be honoured.
public enum AppArmorPolicy {
  /// The longest profile name taken (the kernel's own limit is far larger; real names are short).
  static let maximumNameLength = 1024

  /// `profile` is the structured field, `legacyName` the older string field (`runtime/default`,
  /// `unconfined`, `localhost/<name>`), used only when the structured one is unset. `loaded` is asked only
  /// for a Localhost profile on an AppArmor node.
  public static func choose(
    _ profile: SecurityProfile?, legacyName: String, privileged: Bool, field: String, enabled: Bool, loaded: () -> Set<String>
  ) throws(CrispError) -> AppArmorChoice {
    let requested = try request(profile, legacyName: legacyName, field: field)
    switch requested {
    case .none:
      return .none
    case .runtimeDefault:
      return enabled && !privileged ? .runtimeDefault : .none
    case .localhost(let name):
      guard enabled else {
        throw CrispError.invalidArgument(
          "\(field).apparmor: profile \"localhost/\(name)\" cannot be applied: AppArmor is not enabled on this node")
      }
      guard loaded().contains(name) else {
        throw CrispError.failedPrecondition(
          "\(field).apparmor: profile \"\(name)\" is not loaded on this node (load it with apparmor_parser, or use RuntimeDefault)")
      }
      return .localhost(name)
    }
  }

  /// What was asked, before the node is consulted; an unset request is the runtime's default.
  static func request(_ profile: SecurityProfile?, legacyName: String, field: String) throws(CrispError) -> AppArmorChoice {
    if let profile {
      switch profile.kind {
      case .runtimeDefault: return .runtimeDefault
      case .unconfined: return .none
      case .localhost:
        let name = profile.localhostRef.hasPrefix("localhost/") ? String(profile.localhostRef.dropFirst(10)) : profile.localhostRef
        return .localhost(try checkedName(name, field: "\(field).apparmor.localhost_ref"))
      case .unrecognized(let number):
        throw CrispError.invalidArgument("\(field).apparmor.profile_type: unknown type \(number)")
      }
    }
    switch legacyName {
    case "", "runtime/default": return .runtimeDefault
    case "unconfined": return .none
    default:
      guard legacyName.hasPrefix("localhost/") else {
        throw CrispError.invalidArgument(
          "\(field).apparmor_profile: \"\(legacyName)\" is not runtime/default, unconfined or localhost/<profile>")
      }
      return .localhost(try checkedName(String(legacyName.dropFirst(10)), field: "\(field).apparmor_profile"))
    }
  }

  /// A profile name as it may go into the spec and the kernel's attribute file: not empty, bounded, one
  /// line of printable characters.
  static func checkedName(_ name: String, field: String) throws(CrispError) -> String {
    guard !name.isEmpty else { throw CrispError.invalidArgument("\(field): the profile name is empty") }
    guard name.utf8.count <= maximumNameLength else {
      throw CrispError.invalidArgument("\(field): the profile name is longer than \(maximumNameLength) bytes")
    }
    guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
      throw CrispError.invalidArgument("\(field): the profile name contains a control character")
    }
    return name
  }
}
