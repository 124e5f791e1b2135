public import CrispCore

/// Keeps crisp's default AppArmor profile loaded on a node that has AppArmor: before a pod or container
/// runs under it, the profile is (re)loaded when the kernel does not have it or when the source crisp last
/// loaded differs from this build's. Loads are serialized so that a burst of pod starts runs the parser once.
public final class AppArmorProfiles: Sendable {
  public let host: AppArmorHost
  /// Whether the kernel has AppArmor on: a boot-time setting, so read once rather than on every create.
  public let isEnabled: Bool
  /// Where crisp writes the profile source it loads (`<root>/apparmor`).
  public let directory: String
  private let loading = KeyedLocks()

  public init(host: AppArmorHost, directory: String) {
    self.host = host
    isEnabled = host.isEnabled
    self.directory = directory
  }

  /// The default profile's source file.
  public var defaultProfileFile: String { FilePath.join(directory, AppArmorDefaultProfile.name) }

  /// The decision for a request, against this node (see ``AppArmorPolicy``).
  public func choose(_ profile: SecurityProfile?, legacyName: String, privileged: Bool, field: String) throws(CrispError) -> AppArmorChoice {
    try AppArmorPolicy.choose(
      profile, legacyName: legacyName, privileged: privileged, field: field, enabled: isEnabled, loaded: { host.loadedProfiles() })
  }

  /// Makes sure `choice` can be applied: loads the default profile when it is chosen and missing or stale.
  public func prepare(_ choice: AppArmorChoice) async throws(CrispError) {
    guard choice == .runtimeDefault else { return }
    try await loading.with(AppArmorDefaultProfile.name) { () async throws(CrispError) -> Void in
      let source = AppArmorDefaultProfile.source()
      let file = defaultProfileFile
      let written = ((try? FilePath.read(file, limit: 1 << 20)) ?? nil).map { String(decoding: $0, as: UTF8.self) }
      if written == source, host.loadedProfiles().contains(AppArmorDefaultProfile.name) { return }
      do {
        try FilePath.makeDirectories(directory, mode: 0o700)
        try AtomicFile.write(source, to: file, mode: 0o600)
      } catch {
        throw CrispError.failed("AppArmor: write \(file)", error)
      }
      try await host.load(file)
    }
  }
}
