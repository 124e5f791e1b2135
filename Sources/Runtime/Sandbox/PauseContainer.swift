import CrispCore
import Glibc
import Images
import Store
import OCI

extension RuntimeManager {
  /// Everything of a sandbox but its network: sandbox files, /dev/shm, the pause rootfs, spec, shim and
  /// start. Each step registers its undo in `rollback`.
  func makePauseContainer(
    _ plan: SandboxPlan, image: (record: ImageRecord, config: ImageConfig), paths: inout SpecBuilder.SandboxPaths,
    record: inout SandboxRecord, rollback: inout Rollback
  ) async throws(CrispError) {
    try writeSandboxFiles(plan, paths: &paths, rollback: &rollback)
    if plan.ownIPC { paths.shm = try mountPodShm(plan.id, group: paths.userNamespace?.gids.hostID, rollback: &rollback) }
    let (spec, cgroupsPath) = try preparePauseBundle(plan, image: image, paths: paths, rollback: &rollback)
    let directory = bundle(plan.id)
    try writeSpec(spec, to: directory)
    let runtime = plan.runtime
    let id = plan.id
    rollback.add("delete pause container") { try await runtime.delete(id) }
    let pid = try await host.shims.start(
      .init(
        id: id, directory: directory, runtime: runtime, logPath: "", maxLogLine: config.maxContainerLogLineSize,
        tty: false, stdin: false, stdinOnce: false, memoryCgroup: cgroups.memoryDirectory(cgroupsPath: cgroupsPath),
        oomScore: childOOMScore(-998)))
    try await runtime.start(id, pid: pid)
    record.pid = pid
    let extra = SandboxExtra(
      cgroupsPath: cgroupsPath, shm: paths.shm, hostNetwork: plan.hostNetwork, imageID: image.record.id, userNamespace: paths.userNamespace)
    record.extra = try extra.encoded(for: "sandbox \(id)")
  }

  /// /etc/hostname, /etc/hosts and /etc/resolv.conf of the pod, owned by the pod's root.
  private func writeSandboxFiles(_ plan: SandboxPlan, paths: inout SpecBuilder.SandboxPaths, rollback: inout Rollback) throws(CrispError) {
    let filesDirectory = sandboxFilesDirectory(plan.id)
    rollback.add("remove sandbox files") { try FilePath.removeTree(filesDirectory) }
    let files = try SandboxFiles.write(
      directory: filesDirectory, config: plan.config, hostNetwork: plan.hostNetwork, group: paths.userNamespace?.gids.hostID)
    paths.hostname = files.hostname
    paths.hosts = files.hosts
    paths.resolvConf = files.resolvConf
    if let userns = paths.userNamespace {
      // The pod's root owns its files, as the node's root does for a pod without a user namespace.
      for file in [files.hostname, files.hosts, files.resolvConf] where chown(file, userns.uids.hostID, userns.gids.hostID) != 0 {
        throw CrispError.failed("sandbox \(plan.id): give the pod's root its files", SystemError.last("chown", file))
      }
    }
  }

  /// The pod's own /dev/shm: a tmpfs in a directory only root (and the pod's root) may reach.
  private func mountPodShm(_ id: String, group: UInt32?, rollback: inout Rollback) throws(CrispError) -> String {
    let shm = shmPath(id)
    let shmParent = FilePath.directory(of: shm)
    // Registered before the directory exists: a mount that fails must not leave it behind.
    rollback.add("remove the shm directory") { try FilePath.removeTree(shmParent) }
    do {
      try FilePath.makePrivateDirectory(shmParent, group: group)
      try FilePath.makeDirectories(shm, mode: 0o755)
    } catch {
      throw CrispError.failed("sandbox \(id): create the /dev/shm directory", error)
    }
    let mounts = host.mounts
    try mounts.tmpfs(at: shm, options: "mode=1777,size=65536k", flags: [.nosuid, .nodev, .noexec])
    rollback.add("unmount shm") { try mounts.unmount(shm) }
    return shm
  }

  /// The pause container's bundle directory and root filesystem, and its spec (not yet written).
  private func preparePauseBundle(
    _ plan: SandboxPlan, image: (record: ImageRecord, config: ImageConfig), paths: SpecBuilder.SandboxPaths, rollback: inout Rollback
  ) throws(CrispError) -> (OCISpec, cgroupsPath: String) {
    let id = plan.id
    let directory = bundle(id)
    do {
      try FilePath.makePrivateDirectory(directory, group: paths.userNamespace?.gids.hostID)
    } catch {
      throw CrispError.failed("sandbox \(id): create its bundle", error)
    }
    rollback.add("remove bundle") { try FilePath.removeTree(directory) }
    let rootfs = directory + "/rootfs"
    let provider = host.rootfs
    try provider.prepareRootfs(owner: id, chainID: image.record.chainID, target: rootfs, shift: paths.userNamespace?.shift)
    rollback.add("remove rootfs") { try provider.removeRootfs(owner: id, target: rootfs) }
    let cgroupsPath = cgroups.path(parent: plan.config.linux.cgroupParent, id: id)
    var spec = try SpecBuilder.sandboxSpec(
      id: id, config: plan.config, image: image.config, rootfs: rootfs, paths: paths, cgroupsPath: cgroupsPath,
      oomScoreAdj: childOOMScore(-998), imageName: config.sandboxImage,
      podAnnotations: annotationPatterns(handler: plan.runtime.handler).pod)
    spec.linux?.seccomp = plan.seccomp
    spec.process?.apparmorProfile = plan.appArmor.profileName
    return (spec, cgroupsPath)
  }
}
