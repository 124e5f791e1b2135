public import CrispCore
import Foundation
import Images
import Logging
import Store
import OCI

extension RuntimeManager {
  /// Creates a container in a ready sandbox: its root filesystem, spec and shim (which runs the runtime's
  /// `create`). Returns the container id.
  ///
  /// As with sandboxes, the record exists (`creating`) before the first side effect and a failure runs the
  /// registered undos newest first, then forgets the record and its name.
  ///
  /// `storedConfig` is the config as kubelet sent it, which the record keeps for ContainerStatus.
  public func createContainer(sandboxID rawSandboxID: String, config: ContainerSpec, storedConfig: [UInt8]) async throws(CrispError) -> String {
    // Planned inside the lease: the images it resolved (its own, its image volumes') cannot be removed
    // before the record that uses them is written (RemoveImage checks the records under the same lease).
    return try await images.withLease { () async throws(CrispError) -> String in
      let plan = try planContainer(sandboxID: rawSandboxID, config: config, storedConfig: storedConfig)
      // Held open until runc has joined it (the shim reports the pid after `runc create`), then closed.
      defer { plan.targetNamespace?.close() }
      try await appArmor.prepare(plan.appArmor)
      let image = try containerImage(config)
      var record = try reserveContainer(plan, image: image.record)
      var rollback = Rollback()
      do throws(CrispError) {
        try await locks.with(plan.id) { () async throws(CrispError) -> Void in
          try await buildContainer(plan, image: image, record: &record, rollback: &rollback)
        }
      } catch {
        logger.warning("CreateContainer failed; rolling back", metadata: ["id": "\(plan.id)", "error": "\(error.message)"])
        await rollback.run { what, failure in
          self.logger.error("rollback step failed", metadata: ["id": "\(plan.id)", "step": "\(what)", "error": "\(failure)"])
        }
        try? store.deleteContainer(plan.id, reservedName: plan.reservedName)
        throw error
      }
      var created: Logger.Metadata = ["id": "\(plan.id)", "name": "\(config.metadata.name)", "sandbox": "\(plan.sandboxID)"]
      if let cdi = plan.cdi { created["cdi_devices"] = "\(cdi.devices.map(\.description))" }
      logger.info("container created", metadata: created)
      events.publish(ContainerEvent(containerID: plan.id, sandboxID: plan.sandboxID, kind: .created))
      return plan.id
    }
  }

  /// The container's image and its decoded config; NOT_FOUND when it is not pulled.
  private func containerImage(_ config: ContainerSpec) throws(CrispError) -> (record: ImageRecord, config: ImageConfig) {
    guard let image = try images.resolve(config.image.image) else {
      throw CrispError.notFound("config.image.image \"\(config.image.image)\": image not found (pull it first)")
    }
    do {
      return (image, try JSONDecoder().decode(ImageConfig.self, from: Data(image.config)))
    } catch {
      throw CrispError.failed("image \(image.id): unreadable config", error)
    }
  }

  /// Reserves the container's name and writes its `creating` record; on failure nothing stays reserved.
  private func reserveContainer(_ plan: ContainerCreatePlan, image: ImageRecord) throws(CrispError) -> ContainerRecord {
    try store.reserveName(plan.reservedName, for: plan.id)
    let record = ContainerRecord(
      id: plan.id, sandboxID: plan.sandboxID, name: plan.config.metadata.name, attempt: Int64(plan.config.metadata.attempt), state: .creating,
      imageRef: plan.config.image.image, imageID: image.id, createdAt: host.clock.now(), config: plan.serialized, logPath: plan.logPath ?? "")
    do throws(CrispError) {
      try store.putContainer(record)
    } catch {
      try? store.releaseName(plan.reservedName, for: plan.id)
      throw error
    }
    return record
  }

  /// Every step of a new container, each registering its undo in `rollback`.
  private func buildContainer(
    _ plan: ContainerCreatePlan, image: (record: ImageRecord, config: ImageConfig), record: inout ContainerRecord, rollback: inout Rollback
  ) async throws(CrispError) {
    let id = plan.id
    let directory = try makeContainerBundle(plan, rollback: &rollback)
    let cgroupsPath = cgroups.path(parent: plan.sandbox.config.linux.cgroupParent, id: id)
    var extra = ContainerExtra(
      cgroupsPath: cgroupsPath, reservedName: plan.reservedName, stopSignal: Self.stopSignal(plan.config, image.config),
      mounts: Self.mountRecords(plan.mounts), imageVolumes: plan.imageVolumes.isEmpty ? nil : plan.imageVolumes.map(\.record))
    var mounts = plan.mounts
    if let volumes = extra.imageVolumes {
      // The record lists the volumes before their views are mounted: a view's users are counted from records.
      record.extra = try extra.encoded(for: "container \(id)")
      try store.putContainer(record)
      rollback.add("release image volumes") { try await self.releaseImageViews(of: id, volumes) }
      try await mountImageVolumes(plan, into: &mounts)
      extra.mounts = Self.mountRecords(mounts)
    }
    let rootfs = directory + "/rootfs"
    let provider = host.rootfs
    try provider.prepareRootfs(owner: id, chainID: image.record.chainID, target: rootfs, shift: plan.userNamespace?.shift)
    rollback.add("remove rootfs") { try provider.removeRootfs(owner: id, target: rootfs) }
    let user = try Self.resolveUser(plan.config, image: image.config, rootfs: rootfs)
    try Self.checkUserInPodNamespace(user, plan.userNamespace)
    extra.user = user
    // Volumes that asked for idmapping are seen through the pod's user namespace: each gets an idmapped
    // staging mount in the bundle, which runc binds into the container; once runc has made the
    // container's mounts, the staging mounts are detached (the container keeps its own).
    var staged: [String] = []
    defer { host.mounts.removeStaging(staged, in: directory + "/idmap") }
    let specMounts = try stageIdmappedMounts(plan, mounts: mounts, in: directory + "/idmap", staged: &staged)
    let score = childOOMScore(Int(plan.config.linux.resources.oomScoreAdj))
    var spec = try containerSpec(plan, image: image.config, rootfs: rootfs, user: user, mounts: specMounts, cgroupsPath: cgroupsPath, score: score)
    spec.linux?.seccomp = plan.seccomp
    spec.process?.apparmorProfile = plan.appArmor.profileName
    try writeSpec(spec, to: directory)
    let runtime = plan.runtime
    rollback.add("delete container") { try await runtime.delete(id) }
    record.pid = try await host.shims.start(
      .init(
        id: id, directory: directory, runtime: runtime, logPath: plan.logPath ?? "", maxLogLine: config.maxContainerLogLineSize,
        tty: plan.config.tty, stdin: plan.config.stdin, stdinOnce: plan.config.stdinOnce,
        memoryCgroup: cgroups.memoryDirectory(cgroupsPath: cgroupsPath), oomScore: childOOMScore(max(score, -998))))
    record.state = .created
    record.extra = try extra.encoded(for: "container \(id)")
    try store.putContainer(record)
  }

  /// The mounts as the record keeps them (ContainerStatus reports them).
  private static func mountRecords(_ mounts: [SpecBuilder.ResolvedMount]) -> [ContainerExtra.MountRecord] {
    mounts.map {
      .init(
        containerPath: $0.containerPath, hostPath: $0.hostPath, readonly: $0.readonly, propagation: $0.propagation.recorded,
        recursiveReadOnly: $0.recursiveReadOnly ? true : nil)
    }
  }

  /// The container's bundle directory (root only; the pod's root may traverse it in a user namespace: the
  /// root filesystem is mounted here) and its log file's directory.
  private func makeContainerBundle(_ plan: ContainerCreatePlan, rollback: inout Rollback) throws(CrispError) -> String {
    let directory = bundle(plan.id)
    do {
      try FilePath.makePrivateDirectory(directory, group: plan.userNamespace?.gids.hostID)
    } catch {
      throw CrispError.failed("container \(plan.id): create its bundle", error)
    }
    let mounts = host.mounts
    rollback.add("remove bundle") {
      mounts.unmountAll(under: directory + "/idmap")
      try FilePath.removeTree(directory)
    }
    if let logPath = plan.logPath {
      do {
        try FilePath.makeDirectories(FilePath.directory(of: logPath), mode: 0o755)
      } catch {
        throw CrispError(.invalidArgument, "log_path \"\(plan.config.logPath)\": cannot create its directory: \(error)", cause: error)
      }
    }
    return directory
  }

  /// Ids past a user-namespaced pod's range have no host id: the kernel would refuse them at setuid.
  static func checkUserInPodNamespace(_ user: SpecBuilder.ResolvedUser, _ userNamespace: SpecBuilder.PodUserNamespace?) throws(CrispError) {
    guard let userNamespace else { return }
    let field = "config.linux.security_context"
    guard user.uid < userNamespace.uids.size else {
      throw CrispError.invalidArgument("\(field): user id \(user.uid) is outside the pod's user namespace (\(userNamespace.uids.size) ids mapped)")
    }
    for gid in [user.gid] + user.additionalGids where gid >= userNamespace.gids.size {
      throw CrispError.invalidArgument("\(field): group id \(gid) is outside the pod's user namespace (\(userNamespace.gids.size) ids mapped)")
    }
  }

  /// `mounts` with each idmapped one replaced by its staging mount under `staging`.
  private func stageIdmappedMounts(
    _ plan: ContainerCreatePlan, mounts: [SpecBuilder.ResolvedMount], in staging: String, staged: inout [String]
  ) throws(CrispError) -> [SpecBuilder.ResolvedMount] {
    var specMounts = mounts
    // resolveMounts accepted idmapped mounts only in a pod with a user namespace.
    guard let userNamespace = plan.userNamespace else { return specMounts }
    for (index, mount) in mounts.enumerated() where mount.idmapped {
      let path = "\(staging)/\(index)"
      do {
        if FilePath.isDirectory(mount.hostPath) {
          try FilePath.makeDirectories(path, mode: 0o711)
        } else {
          try FilePath.makeDirectories(staging, mode: 0o711)
          try AtomicFile.write("", to: path)
        }
      } catch {
        throw CrispError.failed("container \(plan.id): stage mounts[\(index)]", error)
      }
      staged.append(path)
      try host.mounts.idmappedClone(mount.hostPath, userns: userNamespace.path, at: path)
      specMounts[index].hostPath = path
    }
    return specMounts
  }

  /// The container's OCI spec from the plan (pure: SpecBuilder).
  private func containerSpec(
    _ plan: ContainerCreatePlan, image: ImageConfig, rootfs: String, user: SpecBuilder.ResolvedUser, mounts: [SpecBuilder.ResolvedMount],
    cgroupsPath: String, score: Int
  ) throws(CrispError) -> OCISpec {
    let sandboxID = plan.sandboxID
    let files = sandboxFilesDirectory(sandboxID)
    let sandboxRecord = plan.sandbox.record
    let paths = SpecBuilder.SandboxPaths(
      hostname: files + "/hostname", hosts: files + "/hosts", resolvConf: files + "/resolv.conf", shm: plan.sandboxExtra?.shm,
      netns: sandboxRecord.netnsPath.isEmpty ? nil : sandboxRecord.netnsPath, userNamespace: plan.userNamespace)
    let annotations = annotationPatterns(handler: plan.runtime.handler)
    return try SpecBuilder.containerSpec(
      id: plan.id, config: plan.config, image: image, imageName: plan.config.image.image, rootfs: rootfs,
      sandbox: .init(id: sandboxID, config: plan.sandbox.config, pausePID: Int32(truncatingIfNeeded: sandboxRecord.pid), paths: paths),
      user: user, mounts: mounts, cgroupsPath: cgroupsPath, oomScoreAdj: score, devices: plan.devices, hostDevices: plan.hostDevices,
      hostCapabilities: LinuxCapabilities.bounding, targetNamespace: plan.targetNamespace?.path,
      podAnnotations: annotations.pod, containerAnnotations: annotations.container, cdi: plan.cdi,
      deviceOwnershipFromSecurityContext: config.runtime.handlers[plan.runtime.handler]?.deviceOwnershipFromSecurityContext ?? false)
  }
}
