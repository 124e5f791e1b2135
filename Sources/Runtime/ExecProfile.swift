import CLinux
import CrispCore
import CSeccomp
import Foundation
import Glibc
import Images
import Synchronization
import OCI

/// Everything `runc exec` applies to a command run in a container, read once from the container's OCI spec:
/// its namespaces and cgroups (taken from the running init), environment, working directory, user and
/// groups, umask, resource limits, capabilities, no_new_privs and compiled seccomp filter.
///
/// With it crisp starts ExecSync commands itself (``ContainerExec``): one fork joins the container and a
/// second execs the command, where `runc exec` starts two Go programs (runc and its init). kubelet's exec
/// probes run every few seconds in every pod, so this is most of what ExecSync costs.
struct ExecProfile: Sendable {
  var namespaces: Int32
  var environment: [String]
  var searchPath: String
  var cwd: String
  var uid: UInt32
  var gid: UInt32
  var groups: [UInt32]
  var umask: UInt32
  var bounding: UInt64
  var effective: UInt64
  var permitted: UInt64
  var inheritable: UInt64
  var ambient: UInt64
  var rlimits: [crisp_exec_rlimit]
  var noNewPrivileges: Bool
  var oomScoreAdj: Int32?
  /// `struct sock_filter` instructions, as bytes; empty for no seccomp.
  var filter: [UInt8]
  var filterInstructions: Int32
  var filterFlags: UInt32

  /// Why a spec needs the OCI runtime's own exec: something crisp does not apply itself.
  struct Unsupported: Error {
    let reason: String
  }

  /// `home`: the user's home directory in the container, for a spec whose environment has no HOME (runc
  /// sets it the same way for the container's own process).
  static func make(_ spec: OCISpec, home: (UInt32) -> String? = { _ in nil }) throws(Unsupported) -> ExecProfile {
    guard let process = spec.process else { throw Unsupported(reason: "no process in the spec") }
    if let profile = process.apparmorProfile, !profile.isEmpty { throw Unsupported(reason: "AppArmor profile") }
    if let label = process.selinuxLabel, !label.isEmpty { throw Unsupported(reason: "SELinux label") }
    var namespaces: Int32 = 0
    for namespace in spec.linux?.namespaces ?? [] {
      guard let flag = namespaceFlags[namespace.type] else { throw Unsupported(reason: "namespace \(namespace.type)") }
      namespaces |= flag
    }
    var environment = process.env ?? []
    if !environment.contains(where: { $0.hasPrefix("HOME=") }) { environment.append("HOME=" + (home(process.user.uid) ?? "/")) }
    let path = environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
    var rlimits: [crisp_exec_rlimit] = []
    for limit in process.rlimits ?? [] {
      guard let resource = rlimitNumbers[limit.type] else { throw Unsupported(reason: "rlimit \(limit.type)") }
      rlimits.append(crisp_exec_rlimit(resource: resource, soft: limit.soft, hard: limit.hard))
    }
    var filter: [UInt8] = []
    var instructions: Int32 = 0
    var flags: UInt32 = 0
    if let seccomp = spec.linux?.seccomp {
      (filter, instructions) = try SeccompCompiler.compile(seccomp)
      for flag in seccomp.flags ?? [] {
        guard let value = seccompFlags[flag] else { throw Unsupported(reason: "seccomp flag \(flag)") }
        flags |= value
      }
    }
    let capabilities = process.capabilities
    return ExecProfile(
      namespaces: namespaces, environment: environment,
      searchPath: path ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", cwd: process.cwd.isEmpty ? "/" : process.cwd,
      uid: process.user.uid, gid: process.user.gid, groups: process.user.additionalGids ?? [], umask: process.user.umask ?? 0o022,
      bounding: mask(capabilities?.bounding), effective: mask(capabilities?.effective), permitted: mask(capabilities?.permitted),
      inheritable: mask(capabilities?.inheritable), ambient: mask(capabilities?.ambient), rlimits: rlimits,
      noNewPrivileges: process.noNewPrivileges ?? false, oomScoreAdj: process.oomScoreAdj.map { Int32(clamping: $0) },
      filter: filter, filterInstructions: instructions, filterFlags: flags)
  }

  /// Capability names as a bit mask; names this build does not know are left out, as runc leaves them.
  static func mask(_ names: [String]?) -> UInt64 {
    var mask: UInt64 = 0
    for name in names ?? [] {
      if let bit = LinuxCapabilities.all.firstIndex(of: name), bit < 64 { mask |= 1 << UInt64(bit) }
    }
    return mask
  }

  /// CLONE_NEW* values (sched.h; Swift's Glibc does not export them).
  static let namespaceFlags: [String: Int32] = [
    "pid": 0x2000_0000, "network": 0x4000_0000, "mount": 0x0002_0000, "ipc": 0x0800_0000,
    "uts": 0x0400_0000, "user": 0x1000_0000, "cgroup": 0x0200_0000, "time": 0x0000_0080,
  ]

  static let rlimitNumbers: [String: Int32] = [
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4, "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
  ]

  static let seccompFlags: [String: UInt32] = [
    "SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
  ]

  /// The kernel's highest capability number.
  static let lastCapability: Int32 = {
    let text = (try? FilePath.readText("/proc/sys/kernel/cap_last_cap")) ?? nil
    return text.flatMap { Int32($0.trimmingSpaces) } ?? Int32(LinuxCapabilities.all.count - 1)
  }()
}
