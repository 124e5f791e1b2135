public import CrispCore
import Foundation

/// Where this node's AppArmor state is read and how profiles are loaded: the kernel's enable switch, the
/// list of loaded profiles, and `apparmor_parser`. The paths are fields so that tests can point them at
/// files of their own (this build machine's kernel has AppArmor off).
public struct AppArmorHost: Sendable {
  /// The module parameter that says `Y` when AppArmor is enabled.
  public var enabledFile: String
  /// securityfs' list of loaded profiles, one `name (mode)` per line.
  public var profilesFile: String
  /// The parser that compiles and loads a profile (Debian's `apparmor` package).
  public var parser: String

  public init(enabledFile: String, profilesFile: String, parser: String) {
    self.enabledFile = enabledFile
    self.profilesFile = profilesFile
    self.parser = parser
  }

  /// The running kernel's AppArmor.
  public static let system = AppArmorHost(
    enabledFile: "/sys/module/apparmor/parameters/enabled", profilesFile: "/sys/kernel/security/apparmor/profiles",
    parser: "/sbin/apparmor_parser")

  /// A host without AppArmor (no file exists): what unit tests get unless they ask for more.
  public static let off = AppArmorHost(
    enabledFile: "/nonexistent/apparmor/enabled", profilesFile: "/nonexistent/apparmor/profiles", parser: "/nonexistent/apparmor_parser")

  /// Whether the kernel has AppArmor enabled.
  public var isEnabled: Bool {
    guard let text = try? FilePath.readText(enabledFile) else { return false }
    return text.hasPrefix("Y")
  }

  /// The names of the loaded profiles. The list is read with a cap (a node holds hundreds of profiles, a
  /// few tens of kilobytes); an unreadable list is empty, so a named profile is then reported missing.
  public func loadedProfiles() -> Set<String> {
    guard let bytes = (try? FilePath.read(profilesFile, limit: Self.profilesLimit)) ?? nil else { return [] }
    return Self.profileNames(String(decoding: bytes, as: UTF8.self))
  }

  /// The cap on the profile list read.
  static let profilesLimit = 8 << 20

  /// Profile names from securityfs' list: each line is the name, a space, and the mode in parentheses.
  public static func profileNames(_ list: String) -> Set<String> {
    var names = Set<String>()
    for line in list.split(separator: "\n", omittingEmptySubsequences: true) {
      guard let open = line.range(of: " (", options: .backwards) else { continue }
      let name = line[..<open.lowerBound]
      if !name.isEmpty { names.insert(String(name)) }
    }
    return names
  }

  /// Compiles and loads (or replaces) the profile in `file`; the parser's own message on failure.
  public func load(_ file: String) async throws(CrispError) {
    try await runParser(["--replace", "--skip-cache", file], what: "load")
  }

  /// Compiles the profile in `file` without loading it: a syntax check that works without AppArmor in the
  /// kernel.
  public func check(_ file: String) async throws(CrispError) {
    try await runParser(["--skip-kernel-load", "--skip-cache", file], what: "check")
  }

  private func runParser(_ arguments: [String], what: String) async throws(CrispError) {
    guard FilePath.exists(parser) else {
      throw CrispError.failedPrecondition("AppArmor: \(parser) not found (install Debian's apparmor package)")
    }
    let result = try await Subprocess.run([parser] + arguments, timeout: .seconds(60), outputLimit: 64 << 10)
    guard result.status == 0, !result.timedOut else {
      let reason = result.timedOut ? "timed out after 60 s" : "exit status \(result.status)"
      let output = result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
      throw CrispError.failedPrecondition("AppArmor: \(parser) could not \(what) \(arguments.last ?? ""): \(reason): \(output)")
    }
  }
}
