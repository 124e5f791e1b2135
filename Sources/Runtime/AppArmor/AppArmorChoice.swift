/// Which AppArmor profile a container (or a pod's pause container) runs under.
public enum AppArmorChoice: Sendable, Equatable {
  /// No profile: AppArmor is off on the node, or the pod asked for Unconfined, or the container is
  /// privileged with no profile of its own.
  case none
  /// crisp's own default profile (``AppArmorDefaultProfile``), loaded when missing or changed.
  case runtimeDefault
  /// A profile already loaded on the node, by name.
  case localhost(String)

  /// The name for the OCI spec's `process.apparmorProfile`; nil for none.
  public var profileName: String? {
    switch self {
    case .none: return nil
    case .runtimeDefault: return AppArmorDefaultProfile.name
    case .localhost(let name): return name
    }
  }
}
