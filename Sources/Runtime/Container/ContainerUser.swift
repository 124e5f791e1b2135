public import CrispCore
import OCI
import Images
import OCI

extension RuntimeManager {
  /// The process user: CRI run_as_user / run_as_username / run_as_group, else the image's USER (see
  /// `ImageUser`: numeric or names looked up in the image's /etc/passwd and /etc/group).
  /// Static: it reads only its arguments, so Fuzz/Harness/Runtime.swift calls it without a manager.
  static func resolveUser(_ config: ContainerSpec, image: ImageConfig, rootfs: String) throws(CrispError) -> SpecBuilder.ResolvedUser {
    let security = config.linux.securityContext
    let accounts = ImageAccountFiles(rootfs: rootfs)
    var uid: UInt32 = 0, gid: UInt32 = 0
    var userName: String?
    if let runAsUser = security.runAsUser {
      uid = try SpecBuilder.criID(runAsUser, field: "linux.security_context.run_as_user")
      gid = accounts.user(uid: uid)?.gid ?? 0
    } else if !security.runAsUsername.isEmpty {
      guard let user = accounts.user(named: security.runAsUsername) else {
        throw CrispError.invalidArgument(
          "linux.security_context.run_as_username \"\(security.runAsUsername)\": no such user in the image's /etc/passwd")
      }
      (uid, gid) = (user.id, user.gid)
      userName = security.runAsUsername
    } else {
      let resolved = try ImageUser.resolve(
        image.config?.user ?? "", field: "image \"\(config.image.image)\" config.User", accounts: accounts)
      (uid, gid, userName) = (resolved.uid, resolved.gid, resolved.name)
    }
    if let runAsGroup = security.runAsGroup {
      guard security.runAsUser != nil || !security.runAsUsername.isEmpty else {
        throw CrispError.invalidArgument("linux.security_context.run_as_group is set without run_as_user or run_as_username")
      }
      gid = try SpecBuilder.criID(runAsGroup, field: "linux.security_context.run_as_group")
    }
    var additional: [UInt32] = []
    for (index, group) in security.supplementalGroups.enumerated() {
      additional.append(try SpecBuilder.criID(group, field: "linux.security_context.supplemental_groups[\(index)]"))
    }
    if security.mergeImageGroups {
      let name = userName ?? accounts.user(uid: uid)?.nameText
      if let name { additional += ImageAccounts.groups(of: name, rootfs: rootfs) }
    }
    var seen: Set<UInt32> = []
    additional = additional.filter { seen.insert($0).inserted }
    return .init(uid: uid, gid: gid, additionalGids: additional)
  }

  /// The signal that asks this container to stop, as `SIG<NAME>`: CRI's, else the image's STOPSIGNAL
  /// (`SIGINT`, `INT` or `2`), else SIGTERM. A value that names no signal counts as unset, so what
  /// ContainerStatus reports is what StopContainer sends.
  static func stopSignal(_ config: ContainerSpec, _ image: ImageConfig) -> String {
    switch config.stopSignal {
    case .named(let name): if let signal = SignalNames.canonicalName(name) { return signal }
    case .runtimeDefault: if let signal = image.config?.stopSignal.flatMap(SignalNames.canonicalName) { return signal }
    case .unrecognized: break
    }
    return "SIGTERM"
  }
}
