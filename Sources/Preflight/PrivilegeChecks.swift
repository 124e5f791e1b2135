import Config
import CrispCore
import Glibc

/// Running as root, and whether the daemon can lower its own oom_score_adj (CAP_SYS_RESOURCE).
struct PrivilegeChecks {
  var config: CrispConfig

  /// CAP_SYS_RESOURCE: needed to lower an oom_score_adj.
  static let capSysResource = 24

  func run() -> [PreflightResult] {
    [root(), oomScore()]
  }

  func root() -> PreflightResult {
    let name = "privileges.root"
    if geteuid() == 0 { return .ok(name, "running as root") }
    return .fail(
      name, "running as uid \(geteuid()): crisp mounts, creates namespaces and runs runc as root", remedy: "run crisp (and crisp check) as root")
  }

  func oomScore() -> PreflightResult {
    let name = "privileges.oom_score_adj"
    let current = (try? OOMScore.current()) ?? 0
    if config.oomScore >= current { return .ok(name, "oom_score = \(config.oomScore) is not below the current \(current): nothing to lower") }
    if Host.hasCapability(Self.capSysResource) { return .ok(name, "CAP_SYS_RESOURCE held: crisp can set oom_score_adj \(config.oomScore)") }
    return .warn(
      name,
      "no CAP_SYS_RESOURCE: crisp cannot lower its oom_score_adj to \(config.oomScore) (stays \(current)) and clamps containers' scores to it; under memory pressure crisp may be killed before pods",
      remedy:
        "run crisp with CAP_SYS_RESOURCE (deploy/crisp.service sets OOMScoreAdjust=-999 as root); in a restricted container this cannot be changed")
  }
}
