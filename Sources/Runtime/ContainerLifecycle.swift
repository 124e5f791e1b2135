public import CRIAPI
public import CrispCore
import Foundation
import Glibc
import CLinux
import Images
import PodNetwork
import Registry
public import Store
import SwiftProtobuf

/// Runtime details of a container kept in its record's `extra`.
struct ContainerExtra: Codable, Sendable {
  var cgroupsPath: String
  var reservedName: String
  var stopSignal: String?
  var mounts: [MountRecord]
  /// The serialized CRI LinuxContainerResources of the last successful UpdateContainerResources.
  var updatedResources: [UInt8]?

  struct MountRecord: Codable, Sendable {
    var containerPath: String
    var hostPath: String
    var readonly: Bool
    var propagation: Int
    var recursiveReadOnly: Bool?
  }
}

extension RuntimeManager {
  // MARK: CreateContainer

  public func createContainer(sandboxID rawSandboxID: String, config: Runtime_V1_ContainerConfig) async throws(CrispError) -> String {
    guard let sandboxID = try resolveID(rawSandboxID, table: "sandboxes"), let sandboxView = try sandbox(sandboxID) else {
      throw CrispError.notFound("pod_sandbox_id \"\(rawSandboxID)\": no such sandbox")
    }
    let sandbox = sandboxView.record
    guard sandbox.state == .ready else {
      throw CrispError.failedPrecondition("pod_sandbox_id \"\(sandboxID)\": the sandbox is not ready (\(sandbox.state.rawValue))")
    }
    guard !config.metadata.name.isEmpty else { throw CrispError.invalidArgument("config.metadata.name is required") }
    guard !config.image.image.isEmpty else { throw CrispError.invalidArgument("config.image.image is required") }
    guard let runtime = runtimes[sandbox.runtimeHandler] else {
      throw CrispError.failedPrecondition("sandbox \(sandboxID): runtime handler \"\(sandbox.runtimeHandler)\" is gone")
    }
    let logPath = try self.logPath(directory: sandboxView.config.logDirectory, relative: config.logPath)
    let sandboxExtra = extra(of: sandbox)
    let userNamespace = sandboxExtra?.userNamespace
    let mounts = try resolveMounts(
      config.mounts, recursiveReadOnly: supportsRecursiveReadOnly(sandbox.runtimeHandler), userNamespace: userNamespace)
    let sandboxConfig = sandboxView.config
    try SecurityChecks.checkContainer(config, sandbox: sandboxConfig)
    let security = config.linux.securityContext
    let seccomp = try SeccompPolicy.filter(
      profile: security.hasSeccomp ? security.seccomp : nil, legacyPath: security.seccompProfilePath, privileged: security.privileged,
      capabilities: try SpecBuilder.capabilities(security.capabilities).effective ?? [], field: "config.linux.security_context")
    var resolvedDevices: [(node: OCISpec.Device, rule: OCISpec.DeviceRule)] = []
    for (index, device) in config.devices.enumerated() {
      let resolved = try DeviceNodes.resolve(device, index: index)
      resolvedDevices.append((resolved.0, resolved.1))
    }
    let devices = resolvedDevices
    let hostDevices = config.linux.securityContext.privileged ? DeviceNodes.host() : []
    // PID mode TARGET: the process namespace of another running container of the same pod.
    var targetNamespace: TargetPIDNamespace?
    let namespaceOptions = config.linux.securityContext.namespaceOptions
    if namespaceOptions.pid == .target {
      let field = "config.linux.security_context.namespace_options.target_id"
      guard !namespaceOptions.targetID.isEmpty else { throw CrispError.invalidArgument("\(field) is required with pid mode TARGET") }
      guard let target = try container(namespaceOptions.targetID), target.record.sandboxID == sandboxID else {
        throw CrispError.notFound("\(field) \"\(namespaceOptions.targetID)\": no such container in pod sandbox \(sandboxID)")
      }
      guard target.record.state == .running, target.record.pid > 0 else {
        throw CrispError.failedPrecondition("\(field) \"\(namespaceOptions.targetID)\": the target container is \(target.record.state.rawValue), not running")
      }
      targetNamespace = try TargetPIDNamespace.open(pid: Int32(truncatingIfNeeded: target.record.pid), containerID: target.record.id, field: field)
    }
    // Held open until runc has joined it (the shim reports the pid after `runc create`), then closed.
    let targetProcess = targetNamespace
    defer { targetProcess?.close() }
    let id = Self.newID()
    let reservedName = "\(config.metadata.name)_\(sandboxConfig.metadata.name)_\(sandboxConfig.metadata.namespace)_\(sandboxConfig.metadata.uid)_\(config.metadata.attempt)"
    let serialized: [UInt8]
    do {
      serialized = try config.serializedBytes()
    } catch {
      throw CrispError.invalidArgument("config: cannot serialize: \(error)")
    }
    return try await images.withLease { () async throws(CrispError) -> String in
      guard let image = try images.resolve(config.image.image) else {
        throw CrispError.notFound("config.image.image \"\(config.image.image)\": image not found (pull it first)")
      }
      let imageConfig: ImageConfig
      do {
        imageConfig = try JSONDecoder().decode(ImageConfig.self, from: Data(image.config))
      } catch {
        throw CrispError.internalError("image \(image.id): unreadable config: \(error)")
      }
      try store.reserveName(reservedName, for: id)
      var record = ContainerRecord(
        id: id, sandboxID: sandboxID, name: config.metadata.name, attempt: Int64(config.metadata.attempt), state: .creating,
        imageRef: config.image.image, imageID: image.id, createdAt: Store.now(), config: serialized, logPath: logPath ?? "")
      do throws(CrispError) {
        try store.putContainer(record)
      } catch {
        try? store.releaseName(reservedName, for: id)
        throw error
      }
      var rollback = Rollback()
      do throws(CrispError) {
        try await locks.with(id) { () async throws(CrispError) -> Void in
          let directory = bundle(id)
          do {
            // Root only (the pod's root may traverse in a user namespace): the root filesystem is mounted here.
            try FilePath.makePrivateDirectory(directory, group: userNamespace?.gids.hostID)
          } catch {
            throw CrispError.internalError("\(error)")
          }
          rollback.add("remove bundle") {
            Mounts.unmountAll(under: directory + "/idmap")
            try FilePath.removeTree(directory)
          }
          if let logPath {
            do {
              try FilePath.makeDirectories(FilePath.directory(of: logPath), mode: 0o755)
            } catch {
              throw CrispError.invalidArgument("log_path \"\(config.logPath)\": cannot create its directory: \(error)")
            }
          }
          let rootfs = directory + "/rootfs"
          try images.snapshotter.prepareRootfs(owner: id, chainID: image.chainID, target: rootfs, shift: userNamespace?.shift)
          rollback.add("remove rootfs") { try self.images.snapshotter.removeRootfs(owner: id, target: rootfs) }
          images.invalidateUsage()
          let user = try Self.resolveUser(config, image: imageConfig, rootfs: rootfs)
          if let userNamespace {
            // Ids past the pod's range have no host id: the kernel would refuse them at setuid.
            let field = "config.linux.security_context"
            guard user.uid < userNamespace.uids.size else {
              throw CrispError.invalidArgument("\(field): user id \(user.uid) is outside the pod's user namespace (\(userNamespace.uids.size) ids mapped)")
            }
            for gid in [user.gid] + user.additionalGids where gid >= userNamespace.gids.size {
              throw CrispError.invalidArgument("\(field): group id \(gid) is outside the pod's user namespace (\(userNamespace.gids.size) ids mapped)")
            }
          }
          let cgroupsPath = cgroups.path(parent: sandboxConfig.linux.cgroupParent, id: id)
          let paths = SpecBuilder.SandboxPaths(
            hostname: sandboxFilesDirectory(sandboxID) + "/hostname", hosts: sandboxFilesDirectory(sandboxID) + "/hosts",
            resolvConf: sandboxFilesDirectory(sandboxID) + "/resolv.conf", shm: sandboxExtra?.shm,
            netns: sandbox.netnsPath.isEmpty ? nil : sandbox.netnsPath, userNamespace: userNamespace)
          // Volumes that asked for idmapping are seen through the pod's user namespace: each gets an idmapped
          // staging mount in the bundle, which runc binds into the container; once runc has made the
          // container's mounts, the staging mounts are detached (the container keeps its own).
          let staging = directory + "/idmap"
          var staged: [String] = []
          defer { Mounts.removeStaging(staged, in: staging) }
          var specMounts = mounts
          // resolveMounts accepted idmapped mounts only in a pod with a user namespace.
          for (index, mount) in mounts.enumerated() where mount.idmapped {
            guard let userNamespace else { continue }
            let path = "\(staging)/\(index)"
            do {
              if FilePath.isDirectory(mount.hostPath) {
                try FilePath.makeDirectories(path, mode: 0o711)
              } else {
                try FilePath.makeDirectories(staging, mode: 0o711)
                try AtomicFile.write("", to: path)
              }
            } catch {
              throw CrispError.internalError("\(error)")
            }
            staged.append(path)
            try Mounts.idmappedClone(mount.hostPath, userns: userNamespace.path, at: path)
            specMounts[index].hostPath = path
          }
          let handler = self.config.runtime.handlers[runtime.handler]
          let requestedScore = config.linux.resources.oomScoreAdj
          let score = childOOMScore(Int(requestedScore))
          var spec = try SpecBuilder.containerSpec(
            id: id, config: config, image: imageConfig, imageName: config.image.image, rootfs: rootfs,
            sandbox: .init(id: sandboxID, config: sandboxConfig, pausePID: Int32(sandbox.pid), paths: paths),
            user: user, mounts: specMounts, cgroupsPath: cgroupsPath, oomScoreAdj: score, devices: devices, hostDevices: hostDevices,
            hostCapabilities: LinuxCapabilities.bounding, targetNamespace: targetProcess?.path,
            podAnnotations: handler?.podAnnotationPatterns ?? .none, containerAnnotations: handler?.containerAnnotationPatterns ?? .none)
          spec.linux?.seccomp = seccomp
          try writeSpec(spec, to: directory)
          rollback.add("delete container") { try await runtime.delete(id) }
          let pid = try await shim.start(.init(
            id: id, directory: directory, runtime: runtime, logPath: logPath ?? "", maxLogLine: self.config.maxContainerLogLineSize,
            tty: config.tty, stdin: config.stdin, stdinOnce: config.stdinOnce,
            memoryCgroup: cgroups.memoryDirectory(cgroupsPath: cgroupsPath), oomScore: childOOMScore(max(score, -998))))
          record.pid = pid
          record.state = .created
          let extra = ContainerExtra(
            cgroupsPath: cgroupsPath, reservedName: reservedName, stopSignal: stopSignal(config, imageConfig),
            mounts: mounts.map {
              .init(
                containerPath: $0.containerPath, hostPath: $0.hostPath, readonly: $0.readonly, propagation: $0.propagation.rawValue,
                recursiveReadOnly: $0.recursiveReadOnly ? true : nil)
            })
          record.extra = Array((try? JSONEncoder().encode(extra)) ?? Data())
          try store.putContainer(record)
        }
      } catch {
        logger.warning("CreateContainer failed; rolling back", metadata: ["id": "\(id)", "error": "\(error.message)"])
        await rollback.run { what, failure in
          self.logger.error("rollback step failed", metadata: ["id": "\(id)", "step": "\(what)", "error": "\(failure)"])
        }
        try? store.deleteContainer(id, reservedName: reservedName)
        throw error
      }
      logger.info("container created", metadata: ["id": "\(id)", "name": "\(config.metadata.name)", "sandbox": "\(sandboxID)"])
      events.publish(ContainerEvent(containerID: id, sandboxID: sandboxID, kind: .created))
      return id
    }
  }

  /// `log_directory/log_path`, refusing a path that leaves the directory.
  func logPath(directory: String, relative: String) throws(CrispError) -> String? {
    guard !relative.isEmpty else { return nil }
    guard !directory.isEmpty else {
      throw CrispError.invalidArgument("log_path \"\(relative)\" is set but the sandbox has no log_directory")
    }
    guard !relative.hasPrefix("/") else { throw CrispError.invalidArgument("log_path \"\(relative)\" must be relative to the sandbox's log_directory") }
    var depth = 0
    for component in relative.split(separator: "/") {
      if component == ".." { depth -= 1 } else if component != "." { depth += 1 }
      if depth < 0 { throw CrispError.invalidArgument("log_path \"\(relative)\" escapes the sandbox's log_directory") }
    }
    return FilePath.join(directory, relative)
  }

  /// CRI mounts with their host paths checked to exist and resolved through symlinks.
  func resolveMounts(
    _ mounts: [Runtime_V1_Mount], recursiveReadOnly: Bool, userNamespace: SpecBuilder.PodUserNamespace? = nil
  ) throws(CrispError) -> [SpecBuilder.ResolvedMount] {
    var result: [SpecBuilder.ResolvedMount] = []
    for (index, mount) in mounts.enumerated() {
      guard mount.containerPath.hasPrefix("/") else {
        throw CrispError.invalidArgument("mounts[\(index)].container_path \"\(mount.containerPath)\" must be an absolute path")
      }
      guard !mount.hostPath.isEmpty else { throw CrispError.invalidArgument("mounts[\(index)].host_path is empty") }
      guard let resolved = realpath(mount.hostPath, nil) else {
        throw CrispError.invalidArgument("mounts[\(index)].host_path \"\(mount.hostPath)\": \(SystemError.last("realpath", mount.hostPath).strerror)")
      }
      let path = String(cString: resolved)
      free(resolved)
      if mount.recursiveReadOnly {
        let field = "mounts[\(index)].recursive_read_only"
        guard recursiveReadOnly else {
          throw CrispError.invalidArgument("\(field): this runtime handler cannot make recursive read-only mounts (Status does not advertise it)")
        }
        guard mount.readonly else { throw CrispError.invalidArgument("\(field) needs readonly: true") }
        guard mount.propagation == .propagationPrivate else {
          throw CrispError.invalidArgument("\(field) needs private propagation (mounts propagated into a read-only tree could not be made read-only)")
        }
      }
      if mount.propagation != .propagationPrivate {
        try MountPropagation.check(path, shared: mount.propagation == .propagationBidirectional, field: "mounts[\(index)]")
      }
      let idmapped = !mount.uidMappings.isEmpty || !mount.gidMappings.isEmpty
      if idmapped {
        // kubelet gives a user-namespaced pod's volumes the pod's own mappings; crisp maps them that way only.
        guard let userNamespace else {
          throw CrispError.invalidArgument("mounts[\(index)]: uidMappings/gidMappings need a pod with its own user namespace")
        }
        guard SecurityChecks.isPodMapping(mount.uidMappings, userNamespace.uids), SecurityChecks.isPodMapping(mount.gidMappings, userNamespace.gids) else {
          throw CrispError.invalidArgument("mounts[\(index)].uidMappings/gidMappings: must be the pod's own mappings (one range each, from container id 0)")
        }
        guard mount.propagation == .propagationPrivate else {
          throw CrispError.invalidArgument("mounts[\(index)]: an idmapped mount cannot propagate mounts (propagation must be private)")
        }
      }
      result.append(.init(
        hostPath: path, containerPath: mount.containerPath, readonly: mount.readonly, propagation: mount.propagation,
        recursiveReadOnly: mount.recursiveReadOnly, idmapped: idmapped))
    }
    return result
  }

  /// The process user: CRI run_as_user / run_as_username / run_as_group, else the image's USER (see
  /// `ImageUser`: numeric or names looked up in the image's /etc/passwd and /etc/group).
  /// Static: it reads only its arguments, so Fuzz/Harness/Runtime.swift calls it without a manager.
  static func resolveUser(_ config: Runtime_V1_ContainerConfig, image: ImageConfig, rootfs: String) throws(CrispError) -> SpecBuilder.ResolvedUser {
    let security = config.linux.securityContext
    let accounts = ImageAccountFiles(rootfs: rootfs)
    var uid: UInt32 = 0, gid: UInt32 = 0
    var userName: String?
    if security.hasRunAsUser {
      uid = try SpecBuilder.criID(security.runAsUser.value, field: "linux.security_context.run_as_user")
      gid = accounts.user(uid: uid)?.gid ?? 0
    } else if !security.runAsUsername.isEmpty {
      guard let user = accounts.user(named: security.runAsUsername) else {
        throw CrispError.invalidArgument("linux.security_context.run_as_username \"\(security.runAsUsername)\": no such user in the image's /etc/passwd")
      }
      (uid, gid) = (user.id, user.gid)
      userName = security.runAsUsername
    } else {
      let resolved = try ImageUser.resolve(
        image.config?.user ?? "", field: "image \"\(config.image.image)\" config.User", accounts: accounts)
      (uid, gid, userName) = (resolved.uid, resolved.gid, resolved.name)
    }
    if security.hasRunAsGroup {
      guard security.hasRunAsUser || !security.runAsUsername.isEmpty else {
        throw CrispError.invalidArgument("linux.security_context.run_as_group is set without run_as_user or run_as_username")
      }
      gid = try SpecBuilder.criID(security.runAsGroup.value, field: "linux.security_context.run_as_group")
    }
    var additional: [UInt32] = []
    for (index, group) in security.supplementalGroups.enumerated() {
      additional.append(try SpecBuilder.criID(group, field: "linux.security_context.supplemental_groups[\(index)]"))
    }
    if security.supplementalGroupsPolicy == .merge {
      let name = userName ?? accounts.user(uid: uid)?.nameText
      if let name { additional += ImageAccounts.groups(of: name, rootfs: rootfs) }
    }
    var seen: Set<UInt32> = []
    additional = additional.filter { seen.insert($0).inserted }
    return .init(uid: uid, gid: gid, additionalGids: additional)
  }

  /// The signal that asks this container to stop: CRI's, else the image's STOPSIGNAL.
  func stopSignal(_ config: Runtime_V1_ContainerConfig, _ image: ImageConfig) -> String? {
    if config.stopSignal != .runtimeDefault {
      let name = String(describing: config.stopSignal).uppercased()
      return name.hasPrefix("SIG") ? name : nil
    }
    return image.config?.stopSignal
  }

  // MARK: Start, stop, remove

  public func startContainer(_ rawID: String) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "containers"), try store.container(id: id) != nil else {
      throw CrispError.notFound("container \"\(rawID)\" not found")
    }
    try await locks.with(id) { () async throws(CrispError) -> Void in
      guard var record = try refreshed(id) else { throw CrispError.notFound("container \"\(rawID)\" not found") }
      guard record.state == .created else {
        throw CrispError.failedPrecondition("container \(id) is \(record.state.rawValue), not created")
      }
      guard let sandbox = try store.sandbox(id: record.sandboxID), let runtime = runtimes[sandbox.runtimeHandler] else {
        throw CrispError.failedPrecondition("container \(id): its sandbox is gone")
      }
      do throws(CrispError) {
        try await runtime.start(id, pid: record.pid)
      } catch {
        // It may have started after all (a timeout) or be waiting half made: make sure it is gone, and its
        // shim has recorded the end, before calling it exited.
        try? await runtime.kill(id, signal: "KILL", all: true)
        try? await runtime.delete(id)
        _ = await ShimLauncher.waitForExit(directory: bundle(id), timeout: .seconds(10))
        record.state = .exited
        record.exitCode = 128
        record.reason = "StartError"
        record.message = error.message
        record.finishedAt = Store.now()
        try store.putContainer(record)
        throw error
      }
      record.state = .running
      record.startedAt = Store.now()
      try store.putContainer(record)
      exitWatch.watch(id, sandboxID: record.sandboxID, bundle: bundle(id))
      events.publish(ContainerEvent(containerID: id, sandboxID: record.sandboxID, kind: .started))
    }
  }

  /// Stops a container: its stop signal, up to `timeout` seconds, then SIGKILL. Idempotent, also for an
  /// unknown id.
  public func stopContainer(_ rawID: String, timeout: Int64) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "containers") else { return }
    try await locks.with(id) { () async throws(CrispError) -> Void in
      guard let record = try refreshed(id), record.state == .running || record.state == .created else { return }
      guard let sandbox = try store.sandbox(id: record.sandboxID), let runtime = runtimes[sandbox.runtimeHandler] else { return }
      let directory = bundle(id)
      if timeout > 0 {
        let signal = containerExtra(record)?.stopSignal ?? "SIGTERM"
        // The stop signal goes to the container's init, as `runc kill` without --all sends it.
        if let number = SignalNames.number(signal), await ShimLauncher.signal(directory: directory, number) {
        } else {
          try? await runtime.kill(id, signal: signal)
        }
        if await ShimLauncher.waitForExit(directory: directory, timeout: .seconds(timeout)) != nil {
          _ = try refreshed(id)
          publishStopped(id)
          return
        }
      }
      // SIGKILL to the init of a PID namespace of the container's own takes every process in it with it; in
      // a shared (pod or node) namespace, the runtime signals each process of the container's cgroup.
      let ownPIDNamespace = (try? view(record))?.config.linux.securityContext.namespaceOptions.pid == .container
      if ownPIDNamespace, await ShimLauncher.signal(directory: directory, SIGKILL) {
      } else {
        try? await runtime.kill(id, signal: "KILL", all: true)
      }
      if await ShimLauncher.waitForExit(directory: directory, timeout: .seconds(30)) == nil {
        throw CrispError.internalError("container \(id) did not exit after SIGKILL")
      }
      _ = try refreshed(id)
      publishStopped(id)
    }
  }

  /// Removes a container, stopping it first. Idempotent.
  public func removeContainer(_ rawID: String) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "containers"), try store.container(id: id) != nil else { return }
    try await stopContainer(id, timeout: 0)
    try await locks.with(id) { () async throws(CrispError) -> Void in
      guard let record = try store.container(id: id) else { return }
      try await destroyContainer(record)
    }
    logger.info("container removed", metadata: ["id": "\(id)"])
  }

  func destroyContainer(_ record: ContainerRecord) async throws(CrispError) {
    let id = record.id
    if record.state == .creating { ShimLauncher.killCreating(directory: bundle(id), id: id) }
    if let sandbox = try store.sandbox(id: record.sandboxID), let runtime = runtimes[sandbox.runtimeHandler] {
      try await deleteRuntimeState(id, runtime: runtime)
    } else {
      for runtime in runtimes.values { try? await runtime.delete(id) }
    }
    try images.snapshotter.removeRootfs(owner: id, target: bundle(id) + "/rootfs")
    images.invalidateUsage()
    // Idmapped views exist only for containers of user-namespaced pods.
    if FilePath.exists(bundle(id) + "/idmap") { Mounts.unmountAll(under: bundle(id) + "/idmap") }
    do {
      try FilePath.removeTree(bundle(id))
    } catch {
      throw CrispError.internalError("remove container \(id) files: \(error)")
    }
    let name = containerExtra(record)?.reservedName ?? ""
    try store.deleteContainer(id, reservedName: name)
    decodedContainers.withLock { $0[id] = nil }
    execProfiles.withLock { $0[id] = nil }
    statsMemory.forget(id)
    publishStopped(id)
    if record.state != .creating { events.publish(ContainerEvent(containerID: id, sandboxID: record.sandboxID, kind: .deleted)) }
  }

  func containerExtra(_ record: ContainerRecord) -> ContainerExtra? {
    try? JSONDecoder().decode(ContainerExtra.self, from: Data(record.extra))
  }

  // MARK: Status

  /// The record with the exit (if the container has exited since) folded in.
  func refreshed(_ id: String) throws(CrispError) -> ContainerRecord? {
    guard let record = try store.container(id: id) else { return nil }
    return try refreshed(record)
  }

  /// `record` with its exit folded in; only a running or created container's exit file is looked at.
  func refreshed(_ record: ContainerRecord) throws(CrispError) -> ContainerRecord {
    var record = record
    let id = record.id
    if record.state == .running || record.state == .created, exitRecorded(id), let exit = ContainerExit.read(directory: bundle(id)) {
      record.state = .exited
      record.exitCode = exit.code
      record.finishedAt = exit.finishedAt
      record.reason = exit.oomKilled ? "OOMKilled" : (exit.code == 0 ? "Completed" : "Error")
      try store.recordExit(id, exitCode: record.exitCode, finishedAt: record.finishedAt, reason: record.reason)
    }
    return record
  }

  public struct ContainerView: Sendable {
    public var record: ContainerRecord
    public var config: Runtime_V1_ContainerConfig
    public var mounts: [SpecBuilder.ResolvedMount]
  }

  public func container(_ rawID: String) throws(CrispError) -> ContainerView? {
    guard let id = try resolveID(rawID, table: "containers"), let record = try refreshed(id), record.state != .creating else { return nil }
    return try view(record)
  }

  /// Records the exits that happened since the last look and returns the store's change count: while it
  /// stays the same, so does every container's list entry. Only containers that may have exited are looked
  /// at (``ExitSignals``), which makes this cheap enough to run before every list.
  public func containersGeneration() throws(CrispError) -> UInt64 {
    try exitWatch.signals.look { check throws(CrispError) -> UInt64 in
      let records = try listedContainers.records(store) { () throws(CrispError) in try store.allContainers() }
      for record in records where (record.state == .running || record.state == .created) && check.mustCheck(record.id) {
        let fresh = try refreshed(record)
        // An exit file that is there but did not read (a transient error) is looked at again next time.
        if fresh.state != .exited, exitRecorded(record.id) { exitWatch.signals.flag(record.id) }
      }
      return store.changeCount
    }
  }

  public func containers() throws(CrispError) -> [ContainerView] {
    let records = try listedContainers.records(store) { () throws(CrispError) in try store.allContainers() }
    var result: [ContainerView] = []
    for record in records where record.state != .creating {
      result.append(try view(try refreshed(record)))
    }
    return result
  }

  private func view(_ record: ContainerRecord) throws(CrispError) -> ContainerView {
    // A container's config never changes after creation: decode it once (lists of many containers are hot).
    if let cached = decodedContainers.withLock({ $0[record.id] }) {
      return ContainerView(record: record, config: cached.config, mounts: cached.mounts)
    }
    let config: Runtime_V1_ContainerConfig
    do {
      config = try Runtime_V1_ContainerConfig(serializedBytes: record.config)
    } catch {
      throw CrispError.internalError("container \(record.id): stored config unreadable: \(error)")
    }
    let mounts = (containerExtra(record)?.mounts ?? []).map {
      SpecBuilder.ResolvedMount(
        hostPath: $0.hostPath, containerPath: $0.containerPath, readonly: $0.readonly,
        propagation: Runtime_V1_MountPropagation(rawValue: $0.propagation) ?? .propagationPrivate, recursiveReadOnly: $0.recursiveReadOnly ?? false)
    }
    if record.state != .creating { decodedContainers.withLock { $0[record.id] = (config, mounts) } }
    return ContainerView(record: record, config: config, mounts: mounts)
  }

  // MARK: Exec and logs

  static let longestExecTimeout = Int64(Int32.max / 1000)

  /// Runs a command in a running container, capturing its output (each stream capped at 16 MiB). A command
  /// still running after `timeout` seconds (0: none) is killed and the call fails with DEADLINE_EXCEEDED.
  public func execSync(_ rawID: String, command: [String], timeout: Int64) async throws(CrispError) -> ProcessResult {
    guard !command.isEmpty else { throw CrispError.invalidArgument("cmd is empty") }
    guard let id = try resolveID(rawID, table: "containers"), let record = try refreshed(id) else {
      throw CrispError.notFound("container \"\(rawID)\" not found")
    }
    guard record.state == .running else {
      throw CrispError.failedPrecondition("container \(id) is \(record.state.rawValue), not running")
    }
    guard let sandbox = try store.sandbox(id: record.sandboxID), let runtime = runtimes[sandbox.runtimeHandler] else {
      throw CrispError.failedPrecondition("container \(id): its sandbox is gone")
    }
    // The caller's int64 of seconds, bounded (about 24 days) before any clock arithmetic is done with it.
    let deadline: Duration? = timeout > 0 ? .seconds(min(timeout, Self.longestExecTimeout)) : nil
    let result: ProcessResult
    if case .success(let profile) = execProfile(id), record.pid > 0 {
      do {
        result = try await ContainerExec.run(profile, pid: Int32(truncatingIfNeeded: record.pid), id: id, command: command, timeout: deadline)
      } catch where error.code == .internal {
        // The command did not start (joining the container failed): the OCI runtime may still manage it.
        logger.warning("crisp's own exec failed; using the OCI runtime's", metadata: ["container": "\(id)", "error": "\(error.message)"])
        result = try await runtimeExec(id, runtime: runtime, command: command, timeout: deadline)
      }
    } else {
      result = try await runtimeExec(id, runtime: runtime, command: command, timeout: deadline)
    }
    if result.timedOut {
      throw CrispError(.deadlineExceeded, "command \(command) in container \(id) timed out after \(timeout)s")
    }
    if result.status != 0 && result.stdout.isEmpty && result.stderr.isEmpty {
      throw CrispError(.internal, "exec in container \(id): exit status \(result.status)")
    }
    return result
  }

  /// `runc exec`, for containers whose spec asks for what crisp's own exec does not apply (an AppArmor
  /// profile, say). A command the runtime cannot start comes back as the command's own failure output.
  private func runtimeExec(_ id: String, runtime: OCIRuntime, command: [String], timeout: Duration?) async throws(CrispError) -> ProcessResult {
    let pidFile = bundle(id) + "/exec-\(Self.newID().prefix(12)).pid"
    defer { try? FilePath.remove(pidFile) }
    var arguments = [runtime.binary, "--root", runtime.root]
    if runtime.systemdCgroup { arguments.append("--systemd-cgroup") }
    arguments += ["exec", "--pid-file", pidFile, id] + command
    // On timeout the command itself is killed first, so runc reaps it and exits on its own; killing runc
    // first would orphan the command.
    return try await Subprocess.run(arguments, timeout: timeout, onTimeout: {
      if let text = try? FilePath.readText(pidFile), let pid = Int32(text.trimmingSpaces), pid > 0 { kill(pid, SIGKILL) }
    })
  }

  /// The container's exec profile, read from its spec once.
  func execProfile(_ id: String) -> Result<ExecProfile, ExecProfile.Unsupported> {
    if let known = execProfiles.withLock({ $0[id] }) { return known }
    let profile: Result<ExecProfile, ExecProfile.Unsupported>
    do {
      guard let data = try FilePath.read(bundle(id) + "/config.json") else { throw ExecProfile.Unsupported(reason: "no config.json") }
      let spec = try JSONDecoder().decode(OCISpec.self, from: Data(data))
      let rootfs = bundle(id) + "/rootfs"
      profile = .success(try ExecProfile.make(spec) { ImageAccounts.home(uid: $0, rootfs: rootfs) })
    } catch let error as ExecProfile.Unsupported {
      profile = .failure(error)
    } catch {
      profile = .failure(ExecProfile.Unsupported(reason: "spec unreadable: \(error)"))
    }
    if case .failure(let problem) = profile {
      logger.info("ExecSync in this container goes through the OCI runtime", metadata: ["container": "\(id)", "reason": "\(problem.reason)"])
    }
    execProfiles.withLock { $0[id] = profile }
    return profile
  }

  /// Asks the container's shim to reopen its log file (kubelet rotated it).
  public func reopenContainerLog(_ rawID: String) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "containers"), let record = try refreshed(id) else {
      throw CrispError.notFound("container \"\(rawID)\" not found")
    }
    guard record.state == .running else {
      throw CrispError.failedPrecondition("container \(id) is \(record.state.rawValue), not running: its log cannot be reopened")
    }
    let answer = try await ShimLauncher.request(directory: bundle(id), "reopen")
    guard answer == "ok" else { throw CrispError.internalError("container \(id): reopen log: \(answer)") }
  }
}

/// Mount propagation of host paths that containers share mounts with.
enum MountPropagation {
  /// Checks that the host mount holding `path` can propagate as asked: shared for bidirectional, shared or
  /// slave for host-to-container. A private host mount would silently propagate nothing, so the request is
  /// refused with what to change, rather than crisp changing the host's mount propagation on its own.
  static func check(_ path: String, shared: Bool, field: String) throws(CrispError) {
    guard let mount = mountInfo(containing: path) else { return }
    if mount.optional.contains("shared:") { return }
    if !shared && mount.optional.contains("master:") { return }
    let needed = shared ? "shared" : "shared or slave"
    throw CrispError.failedPrecondition(
      "\(field).propagation: host path \"\(path)\" is on mount \"\(mount.mountPoint)\", which is not \(needed); run `mount --make-rshared \(mount.mountPoint)` on the node (systemd hosts are shared by default)")
  }

  /// The mountinfo entry of the mount containing `path`: the longest mount point that prefixes it.
  static func mountInfo(containing path: String) -> (mountPoint: String, optional: String)? {
    guard let text = try? FilePath.readText("/proc/self/mountinfo") else { return nil }
    var best: (String, String)?
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count > 6, let separator = fields.firstIndex(of: "-"), separator >= 6 else { continue }
      let point = Mounts.unescapeMountInfo(String(fields[4]))
      let optional = fields[6..<separator].joined(separator: " ")
      let matches = point == "/" || path == point || path.hasPrefix(point + "/")
      if matches && point.count >= (best?.0.count ?? -1) { best = (point, optional) }
    }
    return best
  }
}
