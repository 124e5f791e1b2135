import Config
import CrispCore
import Glibc
import Images

/// The kernel features crisp relies on: overlayfs, bridge netfilter and forwarding for pod traffic, user
/// namespaces and idmapped mounts for user-namespaced pods, and the security module in force.
struct KernelChecks {
  var config: CrispConfig
  /// Where `/proc` and `/sys` are read (tests point them at laid-out trees).
  var proc = "/proc"
  var sys = "/sys"

  func run() async -> [PreflightResult] {
    [
      await overlayfs(), brNetfilter(), sysctl("net/bridge/bridge-nf-call-iptables"), sysctl("net/ipv4/ip_forward"), userNamespaces(),
      idmappedMounts(), securityModule(),
    ]
  }

  /// overlayfs in /proc/filesystems and a real test mount (whiteout, opaque directory) in a temporary
  /// directory on the filesystem that will hold the snapshots.
  func overlayfs() async -> PreflightResult {
    let name = "kernel.overlayfs"
    let snapshots = FilePath.join(config.root, "snapshots")
    let cost =
      "crisp will use the native snapshotter: a full copy of the image per layer and per container, so more disk and slower container starts"
    if config.snapshotter == .native { return .ok(name, "snapshotter = \"native\" is configured; overlayfs not needed") }
    let severity: PreflightResult.Status = config.snapshotter == .overlayfs ? .fail : .warn
    let listed = ((try? FilePath.readText(proc + "/filesystems")) ?? nil)?.split(separator: "\n").contains { $0.hasSuffix("\toverlay") } ?? false
    guard listed else {
      return .init(
        name, severity, "overlay is not in \(proc)/filesystems" + (severity == .warn ? "; \(cost)" : ""),
        remedy: "load the module (modprobe overlay) and list it in /etc/modules-load.d/")
    }
    let problem: String?
    do {
      problem = try await ScratchDirectory.with(near: snapshots) { OverlayProbe.problem(in: $0) }
    } catch {
      problem = "cannot make a test directory: \(error)"
    }
    guard let problem else {
      return .ok(name, "overlay test mount under \(ScratchDirectory.existingAncestor(snapshots)) works (d_type, whiteouts, trusted xattrs)")
    }
    return .init(
      name, severity, "overlayfs does not work under \(snapshots): \(problem)" + (severity == .warn ? "; \(cost)" : ""),
      remedy: "put root (\(config.root)) on ext4 or xfs (ftype=1), not on tmpfs, overlayfs or NFS")
  }

  /// br_netfilter: loaded as a module or built in (its sysctls exist either way).
  func brNetfilter() -> PreflightResult {
    let name = "kernel.br_netfilter"
    if FilePath.isDirectory(sys + "/module/br_netfilter") { return .ok(name, "br_netfilter is loaded") }
    if FilePath.exists(proc + "/sys/net/bridge/bridge-nf-call-iptables") { return .ok(name, "bridge netfilter is available (built in)") }
    return .fail(
      name, "br_netfilter is not loaded: bridged pod traffic bypasses iptables (Services do not work)",
      remedy: "modprobe br_netfilter and add it to /etc/modules-load.d/ (deploy/install.sh does both)")
  }

  /// A sysctl that must be 1 for pod networking (`net/bridge/bridge-nf-call-iptables`, `net/ipv4/ip_forward`).
  func sysctl(_ key: String) -> PreflightResult {
    let dotted = key.replacingOccurrences(of: "/", with: ".")
    let name = "kernel." + dotted
    guard let value = (try? FilePath.readText(proc + "/sys/" + key)) ?? nil else {
      return .fail(
        name, "\(dotted) does not exist (module not loaded?)", remedy: key.hasPrefix("net/bridge") ? "modprobe br_netfilter" : "check the kernel")
    }
    if value.trimmingSpaces == "1" { return .ok(name, "\(dotted) = 1") }
    return .fail(
      name, "\(dotted) = \(value.trimmingSpaces): pods cannot reach Services or the outside",
      remedy: "sysctl -w \(dotted)=1 and set it in /etc/sysctl.d/ (deploy/install.sh does both)")
  }

  /// User namespaces enabled: what user-namespaced pods (`hostUsers: false`) need first.
  func userNamespaces() -> PreflightResult {
    let name = "kernel.user_namespaces"
    guard let text = (try? FilePath.readText(proc + "/sys/user/max_user_namespaces")) ?? nil, let limit = Int(text.trimmingSpaces) else {
      return .warn(
        name, "\(proc)/sys/user/max_user_namespaces is missing: no user namespaces", remedy: "a kernel with CONFIG_USER_NS for user-namespaced pods")
    }
    guard limit > 0 else {
      return .warn(
        name, "max_user_namespaces = 0: user-namespaced pods (hostUsers: false) cannot run",
        remedy: "sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d/)")
    }
    return .ok(name, "max_user_namespaces = \(limit)")
  }

  /// Idmapped mounts (mount_setattr, Linux 5.12) and idmapped overlay layers (5.19): how a user-namespaced
  /// pod's root filesystem and volumes are shifted.
  func idmappedMounts() -> PreflightResult {
    let name = "kernel.idmapped_mounts"
    let release = Self.kernelRelease()
    guard let version = Self.version(of: release) else { return .warn(name, "cannot read the kernel version", remedy: "") }
    if version >= (5, 19) { return .ok(name, "Linux \(release): idmapped mounts on overlayfs layers (user-namespaced pods)") }
    if version >= (5, 12) {
      return .warn(
        name, "Linux \(release) has idmapped mounts but not on overlayfs layers: user-namespaced pods are not offered",
        remedy: "Linux 5.19 or later for user-namespaced pods")
    }
    return .warn(name, "Linux \(release) has no idmapped mounts: user-namespaced pods are not offered", remedy: "Linux 5.19 or later")
  }

  /// AppArmor or SELinux, whichever is in force: crisp loads its AppArmor default profile; SELinux labels
  /// are passed to the runtime.
  func securityModule() -> PreflightResult {
    let name = "kernel.security_module"
    if let enabled = (try? FilePath.readText(sys + "/module/apparmor/parameters/enabled")) ?? nil, enabled.trimmingSpaces == "Y" {
      let parser = (["/sbin/apparmor_parser", "/usr/sbin/apparmor_parser"] as [String]).first { access($0, X_OK) == 0 }
      guard parser != nil else {
        return .warn(
          name, "AppArmor is enabled but apparmor_parser is missing: crisp cannot load its default profile (crisp-default)",
          remedy: "apt-get install apparmor")
      }
      return .ok(name, "AppArmor is enabled (crisp loads its crisp-default profile)")
    }
    if let enforce = (try? FilePath.readText(sys + "/fs/selinux/enforce")) ?? nil {
      return .ok(name, "SELinux is on (\(enforce.trimmingSpaces == "1" ? "enforcing" : "permissive")); labels go to the OCI runtime")
    }
    return .ok(name, "neither AppArmor nor SELinux is on: containers are confined by namespaces, capabilities and seccomp only")
  }

  static func kernelRelease() -> String {
    var name = utsname()
    guard uname(&name) == 0 else { return "" }
    return withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
  }

  /// `major.minor` of a kernel release (`6.1.0-18-amd64` → (6, 1)).
  static func version(of release: String) -> (Int, Int)? {
    let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
    guard parts.count == 2 else { return nil }
    return (parts[0], parts[1])
  }
}
