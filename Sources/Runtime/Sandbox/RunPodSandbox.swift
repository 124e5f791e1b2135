public import CrispCore
import Foundation
import Images
import PodNetwork
import Store
import OCI

extension RuntimeManager {
  /// Creates and starts a pod sandbox: name reservation, network namespace and CNI, hostname/hosts/
  /// resolv.conf, /dev/shm, and the pause container through its shim. Returns the sandbox id.
  ///
  /// The record exists (`creating`) before the first side effect, every step registers its undo, and a
  /// failure runs the undos newest first; a sandbox whose undo itself failed stays NOTREADY so that kubelet's
  /// Stop/Remove retry what is left.
  ///
  /// `storedConfig` is the config as kubelet sent it, which the record keeps for PodSandboxStatus.
  public func runPodSandbox(_ config: PodSandboxSpec, storedConfig: [UInt8], handler: String) async throws(CrispError) -> String {
    let plan = try planSandbox(config, storedConfig: storedConfig, handler: handler)
    try await appArmor.prepare(plan.appArmor)
    var record = try reserveSandbox(plan)
    var rollback = Rollback()
    do {
      try await locks.with(plan.id) { () async throws(CrispError) -> Void in
        try await buildSandbox(plan, record: &record, rollback: &rollback)
      }
    } catch {
      await abandonSandbox(record, name: plan.reservedName, rollback: rollback, error: error)
      throw error
    }
    logger.info("sandbox ready", metadata: ["id": "\(plan.id)", "pod": "\(config.metadata.namespace)/\(config.metadata.name)"])
    events.publish(ContainerEvent(containerID: plan.id, sandboxID: plan.id, kind: .created))
    events.publish(ContainerEvent(containerID: plan.id, sandboxID: plan.id, kind: .started))
    return plan.id
  }

  /// Reserves the sandbox's name and writes its `creating` record; on failure nothing stays reserved.
  private func reserveSandbox(_ plan: SandboxPlan) throws(CrispError) -> SandboxRecord {
    let metadata = plan.config.metadata
    try store.reserveName(plan.reservedName, for: plan.id)
    do throws(CrispError) {
      let record = SandboxRecord(
        id: plan.id, name: metadata.name, namespace: metadata.namespace, uid: metadata.uid, attempt: Int64(metadata.attempt),
        state: .creating, runtimeHandler: plan.runtime.handler, createdAt: host.clock.now(), config: plan.storedConfig)
      try store.putSandbox(record)
      return record
    } catch {
      try? store.releaseName(plan.reservedName, for: plan.id)
      throw error
    }
  }

  /// Every step of a new sandbox, each registering its undo in `rollback`.
  private func buildSandbox(_ plan: SandboxPlan, record: inout SandboxRecord, rollback: inout Rollback) async throws(CrispError) {
    let image = try await sandboxImage()
    var paths = SpecBuilder.SandboxPaths(hostname: "", hosts: "", resolvConf: "", shm: nil, netns: nil)
    // CNI ADD runs while the pause container is made (DESIGN.md); its result is awaited before start
    // returns, and on any failure the task is awaited before the rollback runs DEL.
    var networkSetup: Task<Result<[String], CrispError>, Never>?
    if let request = plan.networkRequest {
      networkSetup = try await setUpNetwork(plan, request: request, record: &record, paths: &paths, rollback: &rollback)
    }
    do throws(CrispError) {
      try await makePauseContainer(plan, image: image, paths: &paths, record: &record, rollback: &rollback)
    } catch {
      _ = await networkSetup?.value
      throw error
    }
    if let networkSetup {
      record.ips = try await networkSetup.value.get()
    }
    record.state = .ready
    // Watched before the record says ready: a pause that dies from here on is seen by the next list.
    sandboxExits.watch(record.id, directory: bundle(record.id))
    try store.putSandbox(record)
  }

  /// Creates the pod's namespaces (a user namespace owning the network one, for a user-namespaced pod) and
  /// starts CNI ADD in the background; returns the running ADD.
  private func setUpNetwork(
    _ plan: SandboxPlan, request: PodNetworkRequest, record: inout SandboxRecord, paths: inout SpecBuilder.SandboxPaths,
    rollback: inout Rollback
  ) async throws(CrispError) -> Task<Result<[String], CrispError>, Never> {
    let id = plan.id
    let netns = newNetnsPath(id)
    // The path goes into the record first, so a daemon killed from here on knows what to remove.
    record.netnsPath = netns
    try store.putSandbox(record)
    let namespaces = host.namespaces
    if let userMapping = plan.userMapping {
      // The user namespace's path is fixed by the id, so removal finds it even without a record.
      let userns = usernsPath(id)
      try await namespaces.createUser(at: userns, uids: userMapping.uids, gids: userMapping.gids, netnsPath: netns)
      rollback.add("remove user namespace") { try namespaces.removeUser(at: userns) }
      paths.userNamespace = .init(path: userns, uids: userMapping.uids, gids: userMapping.gids)
    } else {
      try await namespaces.createNetwork(at: netns)
    }
    rollback.add("remove netns") { try namespaces.removeNetwork(at: netns) }
    paths.netns = netns
    var request = request
    request.netns = netns
    let cacheFile = networkCacheFile(id)
    do {
      try FilePath.makeDirectories(FilePath.directory(of: cacheFile), mode: 0o700)
    } catch {
      throw CrispError.failed("sandbox \(id): create the network cache directory", error)
    }
    let network = host.network
    rollback.add("tear down the pod network") { try await network.detach(cacheFile: cacheFile) }
    let cidrs = podCIDRs.withLock { $0 }
    let setupRequest = request
    return Task {
      do throws(CrispError) {
        return .success(try await network.attach(setupRequest, podCIDRs: cidrs, cacheFile: cacheFile))
      } catch {
        return .failure(error)
      }
    }
  }

  /// Runs the undos of a failed RunPodSandbox. Clean: the record and name go. Not clean (a CNI DEL that
  /// failed holds an IP lease and host rules): the sandbox stays listed NOTREADY, so StopPodSandbox and
  /// RemovePodSandbox (kubelet's garbage collection) retry the teardown instead of the leftovers being lost.
  private func abandonSandbox(_ record: SandboxRecord, name: String, rollback: Rollback, error: CrispError) async {
    let id = record.id
    logger.warning("RunPodSandbox failed; rolling back", metadata: ["id": "\(id)", "error": "\(error.message)"])
    let clean = await rollback.run { what, failure in
      self.logger.error("rollback step failed", metadata: ["id": "\(id)", "step": "\(what)", "error": "\(failure)"])
    }
    if clean {
      try? store.deleteSandbox(id, name: name)
    } else {
      var record = record
      record.state = .notready
      try? store.putSandbox(record)
    }
  }

  /// The sandbox image, resolved (pulled through the mirrors if it is not built in and not present).
  func sandboxImage() async throws(CrispError) -> (record: ImageRecord, config: ImageConfig) {
    var image = try images.resolve(config.sandboxImage)
    if image == nil { image = try await images.pull(config.sandboxImage, credentials: nil) }
    guard let image else { throw CrispError.notFound("sandbox image \(config.sandboxImage) is not available") }
    do {
      return (image, try JSONDecoder().decode(ImageConfig.self, from: Data(image.config)))
    } catch {
      throw CrispError.failed("sandbox image \(image.id): unreadable config", error)
    }
  }
}
