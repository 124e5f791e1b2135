import CSeccomp
import CrispCore
import Foundation
import OCI

/// The seccomp filter of a container or pause process, from the CRI's profile request. Every system call
/// name is checked with libseccomp before runc sees it, so a typo in a profile fails the CRI call with the
/// name instead of failing runc later with a cryptic error.
enum SeccompPolicy {
  static let actions: Set<String> = [
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
  ]

  /// The filter for a process with these effective capabilities; nil means none (unset, Unconfined, or a
  /// privileged container).
  static func filter(
    profile: SecurityProfile?, legacyPath: String, privileged: Bool, capabilities: [String], field: String
  ) throws(CrispError) -> OCISpec.Seccomp? {
    if privileged { return nil }
    if let profile {
      switch profile.kind {
      case .unconfined: return nil
      case .runtimeDefault: return runtimeDefault(capabilities: Set(capabilities))
      case .localhost: return try load(profile.localhostRef, field: "\(field).seccomp.localhost_ref")
      case .unrecognized(let value): throw CrispError.invalidArgument("\(field).seccomp.profile_type \(value) is not a profile type")
      }
    }
    switch legacyPath {
    case "", "unconfined": return nil
    case "runtime/default", "docker/default": return runtimeDefault(capabilities: Set(capabilities))
    default:
      guard legacyPath.hasPrefix("localhost/") else {
        throw CrispError.invalidArgument("\(field).seccomp_profile_path \"\(legacyPath)\": expected runtime/default, unconfined or localhost/<path>")
      }
      return try load(String(legacyPath.dropFirst("localhost/".count)), field: "\(field).seccomp_profile_path")
    }
  }

  /// crisp's default profile for a process with `capabilities`.
  static func runtimeDefault(capabilities: Set<String>) -> OCISpec.Seccomp {
    var names = SeccompDefaultProfile.allowed
    #if arch(x86_64)
    names += SeccompDefaultProfile.x86Only
    #endif
    for (capability, calls) in SeccompDefaultProfile.byCapability.sorted(by: { $0.key < $1.key }) where capabilities.contains(capability) {
      names += calls
    }
    let hasAdmin = capabilities.contains("CAP_SYS_ADMIN")
    if hasAdmin { names += ["clone", "clone3"] }
    var seen: Set<String> = []
    names = names.filter { crisp_seccomp_known_syscall($0) == 1 && seen.insert($0).inserted }
    var rules: [OCISpec.SyscallRule] = [.init(names: names, action: "SCMP_ACT_ALLOW", errnoRet: nil, args: nil)]
    for persona in SeccompDefaultProfile.personalities {
      rules.append(
        .init(
          names: ["personality"], action: "SCMP_ACT_ALLOW", errnoRet: nil, args: [.init(index: 0, value: persona, valueTwo: nil, op: "SCMP_CMP_EQ")]))
    }
    rules.append(
      .init(
        names: ["socket"], action: "SCMP_ACT_ALLOW", errnoRet: nil,
        args: [.init(index: 0, value: SeccompDefaultProfile.vsockFamily, valueTwo: nil, op: "SCMP_CMP_NE")]))
    if !hasAdmin {
      // clone without namespace flags; clone3 (whose flags sit in memory a filter cannot read) answers
      // ENOSYS so the C library falls back to clone.
      rules.append(
        .init(
          names: ["clone"], action: "SCMP_ACT_ALLOW", errnoRet: nil,
          args: [.init(index: 0, value: SeccompDefaultProfile.namespaceFlags, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")]))
      rules.append(.init(names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38, args: nil))
    }
    return OCISpec.Seccomp(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1, architectures: architectures, flags: nil, syscalls: rules)
  }

  static var architectures: [String] {
    #if arch(x86_64)
    return ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    #elseif arch(arm64)
    return ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    #else
    return []
    #endif
  }

  /// A profile file in the OCI runtime spec's seccomp format, checked.
  static func load(_ path: String, field: String) throws(CrispError) -> OCISpec.Seccomp {
    guard path.hasPrefix("/") else { throw CrispError.invalidArgument("\(field) \"\(path)\" must be an absolute path") }
    let bytes: [UInt8]?
    do {
      bytes = try FilePath.read(path, limit: 4 << 20)
    } catch {
      throw CrispError.invalidArgument("\(field) \"\(path)\": \(error)")
    }
    guard let bytes else { throw CrispError.invalidArgument("\(field) \"\(path)\": no such file") }
    let profile: OCISpec.Seccomp
    do {
      profile = try JSONDecoder().decode(OCISpec.Seccomp.self, from: Data(bytes))
    } catch {
      throw CrispError.invalidArgument("\(field) \"\(path)\" is not an OCI seccomp profile: \(error)")
    }
    try check(profile, source: "\(field) \"\(path)\"")
    return profile
  }

  static func check(_ profile: OCISpec.Seccomp, source: String) throws(CrispError) {
    guard actions.contains(profile.defaultAction) else {
      throw CrispError.invalidArgument("\(source): defaultAction \"\(profile.defaultAction)\" is not a seccomp action")
    }
    for (index, rule) in (profile.syscalls ?? []).enumerated() {
      guard actions.contains(rule.action) else {
        throw CrispError.invalidArgument("\(source): syscalls[\(index)].action \"\(rule.action)\" is not a seccomp action")
      }
      for name in rule.names where crisp_seccomp_known_syscall(name) != 1 {
        throw CrispError.invalidArgument("\(source): syscalls[\(index)]: \"\(name)\" is not a system call on this node")
      }
    }
  }
}
