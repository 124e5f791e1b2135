public import CRIAPI
public import CrispCore
import Foundation
import Glibc
import Images
import PodNetwork
import Registry
public import Store
import SwiftProtobuf

/// Runtime details of a sandbox kept in its record's `extra`.
struct SandboxExtra: Codable, Sendable {
  var cgroupsPath: String
  var shm: String?
  var hostNetwork: Bool
  var imageID: String
  /// The pod's own user namespace (pinned) and mapping; nil for the node's.
  var userNamespace: SpecBuilder.PodUserNamespace?
}

extension RuntimeManager {
  // MARK: RunPodSandbox

  /// Creates and starts a pod sandbox: name reservation, network namespace, hostname/hosts/resolv.conf,
  /// /dev/shm, and the pause container through its shim. Returns the sandbox id.
  public func runPodSandbox(_ config: Runtime_V1_PodSandboxConfig, handler: String) async throws(CrispError) -> String {
    let metadata = config.metadata
    for (field, value) in [("name", metadata.name), ("namespace", metadata.namespace), ("uid", metadata.uid)] where value.isEmpty {
      throw CrispError.invalidArgument("config.metadata.\(field) is required")
    }
    let runtime = try runtime(for: handler)
    try SecurityChecks.checkPod(config)
    let userMapping = try SecurityChecks.podUserNamespace(config)
    if userMapping != nil, !supportsUserNamespaces(runtime.handler) {
      throw CrispError.invalidArgument(
        "config.linux.security_context.namespace_options.userns_options: runtime handler \"\(runtime.handler)\" cannot run user-namespaced pods on this node (Status does not advertise it: \(userNamespaceProblem(runtime.handler) ?? "unknown"))")
    }
    let podSecurity = config.linux.securityContext
    let seccomp = try SeccompPolicy.filter(
      profile: podSecurity.hasSeccomp ? podSecurity.seccomp : nil, legacyPath: podSecurity.seccompProfilePath, privileged: podSecurity.privileged,
      capabilities: SpecBuilder.defaultCapabilities, field: "config.linux.security_context")
    let id = Self.newID()
    let namespaces = config.linux.securityContext.namespaceOptions
    let hostNetwork = namespaces.network == .node
    var networkRequest: PodNetworkRequest?
    if !hostNetwork {
      // Refused before anything is made: a network that is not ready, or pod input the plugins cannot take.
      _ = try networks.requireReady()
      let request = Self.networkRequest(config, id: id)
      _ = try PodNetworks.runtimeConfig(for: request, podCIDRs: [])
      networkRequest = request
    }
    let name = "\(metadata.name)_\(metadata.namespace)_\(metadata.uid)_\(metadata.attempt)"
    try store.reserveName(name, for: id)
    let serialized: [UInt8]
    do {
      serialized = try config.serializedBytes()
    } catch {
      try? store.releaseName(name, for: id)
      throw CrispError.invalidArgument("config: cannot serialize: \(error)")
    }
    var record = SandboxRecord(
      id: id, name: metadata.name, namespace: metadata.namespace, uid: metadata.uid, attempt: Int64(metadata.attempt),
      state: .creating, runtimeHandler: runtime.handler, createdAt: Store.now(), config: serialized)
    do {
      try store.putSandbox(record)
    } catch {
      try? store.releaseName(name, for: id)
      throw error
    }
    var rollback = Rollback()
    do {
      try await locks.with(id) { () async throws(CrispError) -> Void in
        let image = try await sandboxImage()
        var paths = SpecBuilder.SandboxPaths(hostname: "", hosts: "", resolvConf: "", shm: nil, netns: nil)
        // CNI ADD runs while the pause container is made (DESIGN.md); its result is awaited before start
        // returns, and on any failure the task is awaited before the rollback runs DEL.
        var networkSetup: Task<Result<[String], CrispError>, Never>?
        if var request = networkRequest {
          let netns = newNetnsPath(id)
          // The path goes into the record first, so a daemon killed from here on knows what to remove.
          record.netnsPath = netns
          try store.putSandbox(record)
          if let userMapping {
            // The user namespace's path is fixed by the id, so removal finds it even without a record.
            let userns = usernsPath(id)
            try await UserNamespace.create(at: userns, uids: userMapping.uids, gids: userMapping.gids, netnsPath: netns)
            rollback.add("remove user namespace") { try UserNamespace.remove(at: userns) }
            paths.userNamespace = .init(path: userns, uids: userMapping.uids, gids: userMapping.gids)
          } else {
            try await NetworkNamespace.create(at: netns)
          }
          rollback.add("remove netns") { try NetworkNamespace.remove(at: netns) }
          paths.netns = netns
          request.netns = netns
          let cacheFile = networkCacheFile(id)
          do {
            try FilePath.makeDirectories(FilePath.directory(of: cacheFile), mode: 0o700)
          } catch {
            throw CrispError.internalError("\(error)")
          }
          rollback.add("tear down the pod network") { try await self.networks.detach(cacheFile: cacheFile) }
          let cidrs = podCIDRs.withLock { $0 }
          let networks = self.networks
          let setupRequest = request
          networkSetup = Task {
            do throws(CrispError) {
              return .success(try await networks.attach(setupRequest, podCIDRs: cidrs, cacheFile: cacheFile))
            } catch {
              return .failure(error)
            }
          }
        }
        do throws(CrispError) {
          try await makePauseContainer(
            id: id, config: config, runtime: runtime, image: image, hostNetwork: hostNetwork, seccomp: seccomp, paths: &paths,
            record: &record, rollback: &rollback)
        } catch {
          _ = await networkSetup?.value
          throw error
        }
        if let networkSetup {
          record.ips = try await networkSetup.value.get()
        }
        record.state = .ready
        try store.putSandbox(record)
      }
    } catch {
      logger.warning("RunPodSandbox failed; rolling back", metadata: ["id": "\(id)", "error": "\(error.message)"])
      let clean = await rollback.run { what, failure in
        self.logger.error("rollback step failed", metadata: ["id": "\(id)", "step": "\(what)", "error": "\(failure)"])
      }
      if clean {
        try? store.deleteSandbox(id, name: name)
      } else {
        // Something could not be undone (a CNI DEL that failed holds an IP lease and host rules): the sandbox
        // stays listed as NOTREADY, so StopPodSandbox / RemovePodSandbox (kubelet's garbage collection) retry
        // the teardown instead of the leftovers being forgotten.
        record.state = .notready
        try? store.putSandbox(record)
      }
      throw error
    }
    logger.info("sandbox ready", metadata: ["id": "\(id)", "pod": "\(metadata.namespace)/\(metadata.name)"])
    events.publish(ContainerEvent(containerID: id, sandboxID: id, kind: .created))
    events.publish(ContainerEvent(containerID: id, sandboxID: id, kind: .started))
    return id
  }

  /// Everything of a sandbox but its network: sandbox files, /dev/shm, the pause rootfs, spec, shim and
  /// start. Each step registers its undo in `rollback`.
  private func makePauseContainer(
    id: String, config: Runtime_V1_PodSandboxConfig, runtime: OCIRuntime, image: (record: ImageRecord, config: ImageConfig),
    hostNetwork: Bool, seccomp: OCISpec.Seccomp?, paths: inout SpecBuilder.SandboxPaths, record: inout SandboxRecord,
    rollback: inout Rollback
  ) async throws(CrispError) {
    let namespaces = config.linux.securityContext.namespaceOptions
    let directory = bundle(id)
    let filesDirectory = sandboxFilesDirectory(id)
    rollback.add("remove sandbox files") { try FilePath.removeTree(filesDirectory) }
    let files = try SandboxFiles.write(directory: filesDirectory, config: config, hostNetwork: hostNetwork, group: paths.userNamespace?.gids.hostID)
    paths.hostname = files.hostname
    paths.hosts = files.hosts
    paths.resolvConf = files.resolvConf
    if let userns = paths.userNamespace {
      // The pod's root owns its files, as the node's root does for a pod without a user namespace.
      for file in [files.hostname, files.hosts, files.resolvConf] where chown(file, userns.uids.hostID, userns.gids.hostID) != 0 {
        throw CrispError.internalError("\(SystemError.last("chown", file))")
      }
    }
    if namespaces.ipc != .node {
      let shm = shmPath(id)
      do {
        // The tmpfs is 1777 for the pod: only root (and the pod's root) may reach it.
        try FilePath.makePrivateDirectory(FilePath.directory(of: shm), group: paths.userNamespace?.gids.hostID)
        try FilePath.makeDirectories(shm, mode: 0o755)
      } catch {
        throw CrispError.internalError("\(error)")
      }
      try Mounts.tmpfs(at: shm, options: "mode=1777,size=65536k", flags: [.nosuid, .nodev, .noexec])
      rollback.add("unmount shm") {
        try Mounts.unmount(shm)
        try FilePath.removeTree(FilePath.directory(of: shm))
      }
      paths.shm = shm
    }
    do {
      try FilePath.makePrivateDirectory(directory, group: paths.userNamespace?.gids.hostID)
    } catch {
      throw CrispError.internalError("\(error)")
    }
    rollback.add("remove bundle") { try FilePath.removeTree(directory) }
    let rootfs = directory + "/rootfs"
    try images.snapshotter.prepareRootfs(owner: id, chainID: image.record.chainID, target: rootfs, shift: paths.userNamespace?.shift)
    rollback.add("remove rootfs") { try self.images.snapshotter.removeRootfs(owner: id, target: rootfs) }
    let cgroupsPath = cgroups.path(parent: config.linux.cgroupParent, id: id)
    var spec = try SpecBuilder.sandboxSpec(
      id: id, config: config, image: image.config, rootfs: rootfs, paths: paths, cgroupsPath: cgroupsPath,
      oomScoreAdj: childOOMScore(-998), imageName: self.config.sandboxImage,
      podAnnotations: self.config.runtime.handlers[runtime.handler]?.podAnnotationPatterns ?? .none)
    spec.linux?.seccomp = seccomp
    try writeSpec(spec, to: directory)
    let memory = cgroups.memoryDirectory(cgroupsPath: cgroupsPath)
    rollback.add("delete pause container") { try await runtime.delete(id) }
    let pid = try await shim.start(.init(
      id: id, directory: directory, runtime: runtime, logPath: "", maxLogLine: self.config.maxContainerLogLineSize,
      tty: false, stdin: false, stdinOnce: false, memoryCgroup: memory, oomScore: childOOMScore(-998)))
    try await runtime.start(id, pid: pid)
    record.pid = pid
    let extra = SandboxExtra(
      cgroupsPath: cgroupsPath, shm: paths.shm, hostNetwork: hostNetwork, imageID: image.record.id, userNamespace: paths.userNamespace)
    record.extra = Array((try? JSONEncoder().encode(extra)) ?? Data())
  }

  /// The pod's network request from its sandbox config (the netns path is filled in once it exists).
  static func networkRequest(_ config: Runtime_V1_PodSandboxConfig, id: String) -> PodNetworkRequest {
    PodNetworkRequest(
      sandboxID: id, podName: config.metadata.name, podNamespace: config.metadata.namespace, podUID: config.metadata.uid, netns: "",
      portMappings: config.portMappings.map { mapping in
        let proto: String
        switch mapping.protocol {
        case .udp: proto = "udp"
        case .sctp: proto = "sctp"
        default: proto = "tcp"
        }
        return .init(hostPort: Int(mapping.hostPort), containerPort: Int(mapping.containerPort), proto: proto, hostIP: mapping.hostIp)
      },
      dnsServers: config.dnsConfig.servers, dnsSearches: config.dnsConfig.searches, dnsOptions: config.dnsConfig.options,
      annotations: config.annotations, cgroupParent: config.linux.cgroupParent)
  }

  /// The sandbox image, resolved (pulled through the mirrors if it is not built in and not present).
  func sandboxImage() async throws(CrispError) -> (record: ImageRecord, config: ImageConfig) {
    var image = try images.resolve(config.sandboxImage)
    if image == nil { image = try await images.pull(config.sandboxImage, credentials: nil) }
    guard let image else { throw CrispError.notFound("sandbox image \(config.sandboxImage) is not available") }
    do {
      return (image, try JSONDecoder().decode(ImageConfig.self, from: Data(image.config)))
    } catch {
      throw CrispError.internalError("sandbox image \(image.id): unreadable config: \(error)")
    }
  }

  // MARK: StopPodSandbox

  /// Stops every container of the sandbox and its pause container, and unmounts /dev/shm. Idempotent, also
  /// for an id that never existed.
  public func stopPodSandbox(_ rawID: String) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "sandboxes"), try store.sandbox(id: id) != nil else { return }
    // Containers first: the pod keeps its network (and its IP) until every one of them is gone, also one
    // still in a graceful StopContainer.
    for container in try store.containers(inSandbox: id) {
      try await stopContainer(container.id, timeout: 0)
    }
    try await locks.with(id) { () async throws(CrispError) -> Void in
      guard var current = try store.sandbox(id: id) else { return }
      // CNI DEL (it releases the pod's IP) runs while the pause container stops: the pinned namespace outlives
      // the process. A failure leaves the attachment saved and the sandbox NOTREADY, and the next stop (or
      // removal) runs DEL again.
      let networks = self.networks
      let cacheFile = networkCacheFile(id)
      let teardown = Task { () -> CrispError? in
        do throws(CrispError) {
          try await networks.detach(cacheFile: cacheFile)
          return nil
        } catch {
          return error
        }
      }
      do throws(CrispError) {
        if let runtime = runtimes[current.runtimeHandler], ContainerExit.read(directory: bundle(id)) == nil, ShimLauncher.isRunning(directory: bundle(id)) {
          if await !ShimLauncher.signal(directory: bundle(id), SIGKILL) {
            // Already gone is fine; anything else is reported below if it keeps running.
            try? await runtime.kill(id, signal: "KILL")
          }
          if await ShimLauncher.waitForExit(directory: bundle(id), timeout: .seconds(10)) == nil {
            throw CrispError.internalError("sandbox \(id): the pause container did not exit after SIGKILL")
          }
        }
        if let shm = extra(of: current)?.shm { try Mounts.unmount(shm) }
        if current.state != .notready {
          current.state = .notready
          try store.putSandbox(current)
          events.publish(ContainerEvent(containerID: id, sandboxID: id, kind: .stopped))
        }
      } catch {
        _ = await teardown.value
        throw error
      }
      if let failure = await teardown.value { throw failure }
    }
  }

  // MARK: RemovePodSandbox

  /// Removes the sandbox with every container in it, its namespace, files and record. Idempotent.
  public func removePodSandbox(_ rawID: String) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "sandboxes"), try store.sandbox(id: id) != nil else { return }
    try await stopPodSandbox(id)
    for container in try store.containers(inSandbox: id) {
      try await removeContainer(container.id)
    }
    try await locks.with(id) { () async throws(CrispError) -> Void in
      guard let record = try store.sandbox(id: id) else { return }
      try await destroySandbox(record)
    }
    logger.info("sandbox removed", metadata: ["id": "\(id)"])
  }

  /// Deletes everything a sandbox owns (used by removal and by recovery of a half-made sandbox).
  func destroySandbox(_ record: SandboxRecord) async throws(CrispError) {
    let id = record.id
    if record.state == .creating { ShimLauncher.killCreating(directory: bundle(id), id: id) }
    if let runtime = runtimes[record.runtimeHandler] { try await deleteRuntimeState(id, runtime: runtime) }
    try images.snapshotter.removeRootfs(owner: id, target: bundle(id) + "/rootfs")
    let extra = extra(of: record)
    if let shm = extra?.shm ?? Optional(shmPath(id)) { try Mounts.unmount(shm) }
    try await networks.detach(cacheFile: networkCacheFile(id))
    do {
      try FilePath.removeTree(FilePath.join(config.state, "sandboxes/\(id)"))
      try FilePath.removeTree(bundle(id))
      try FilePath.removeTree(sandboxFilesDirectory(id))
    } catch {
      throw CrispError.internalError("remove sandbox \(id) files: \(error)")
    }
    try NetworkNamespace.remove(at: record.netnsPath.isEmpty ? netnsPath(id) : record.netnsPath)
    try UserNamespace.remove(at: usernsPath(id))
    let name = "\(record.name)_\(record.namespace)_\(record.uid)_\(record.attempt)"
    try store.deleteSandbox(id, name: name)
    decodedSandboxes.withLock { $0[id] = nil }
    statsMemory.forget("pod:" + id)
    if record.state != .creating { events.publish(ContainerEvent(containerID: id, sandboxID: id, kind: .deleted)) }
  }

  func extra(of record: SandboxRecord) -> SandboxExtra? {
    try? JSONDecoder().decode(SandboxExtra.self, from: Data(record.extra))
  }

  // MARK: Status and list

  public struct SandboxView: Sendable {
    public var record: SandboxRecord
    public var config: Runtime_V1_PodSandboxConfig
    public var hostNetwork: Bool
  }

  /// The sandbox with its state brought up to date (a pause container that died makes it NOTREADY).
  public func sandbox(_ rawID: String) throws(CrispError) -> SandboxView? {
    guard let id = try resolveID(rawID, table: "sandboxes"), var record = try store.sandbox(id: id) else { return nil }
    if record.state == .ready, exitRecorded(id), ContainerExit.read(directory: bundle(id)) != nil {
      record.state = .notready
      try store.markSandboxNotReady(id)
    }
    return try view(record)
  }

  public func sandboxes() throws(CrispError) -> [SandboxView] {
    let records = try listedSandboxes.records(store) { () throws(CrispError) in try store.allSandboxes() }
    return try records.filter { $0.state != .creating }.map { record throws(CrispError) in
      var record = record
      if record.state == .ready, exitRecorded(record.id), ContainerExit.read(directory: bundle(record.id)) != nil {
        record.state = .notready
        try store.markSandboxNotReady(record.id)
      }
      return try view(record)
    }
  }

  private func view(_ record: SandboxRecord) throws(CrispError) -> SandboxView {
    if let cached = decodedSandboxes.withLock({ $0[record.id] }) {
      return SandboxView(record: record, config: cached.config, hostNetwork: cached.hostNetwork)
    }
    let config: Runtime_V1_PodSandboxConfig
    do {
      config = try Runtime_V1_PodSandboxConfig(serializedBytes: record.config)
    } catch {
      throw CrispError.internalError("sandbox \(record.id): stored config unreadable: \(error)")
    }
    let hostNetwork = extra(of: record)?.hostNetwork ?? false
    // A sandbox still being created has no extra yet.
    if record.state != .creating { decodedSandboxes.withLock { $0[record.id] = (config, hostNetwork) } }
    return SandboxView(record: record, config: config, hostNetwork: hostNetwork)
  }
}
