import CRIAPI
import CrispCore
import Foundation
import GRPCCore
import PodNetwork
import Runtime
import Store

/// Pod sandbox and container RPCs: validation and the CRI view of the records; the work is RuntimeManager's.
extension RuntimeServiceHandler {
  // MARK: Sandboxes

  func updateRuntimeConfig(request: Runtime_V1_UpdateRuntimeConfigRequest) async throws -> Runtime_V1_UpdateRuntimeConfigResponse {
    try runtime.updatePodCIDR(request.runtimeConfig.networkConfig.podCidr)
    return .init()
  }

  func runPodSandbox(request: Runtime_V1_RunPodSandboxRequest) async throws -> Runtime_V1_RunPodSandboxResponse {
    let spec = try PodSandboxSpec.validated(request)
    let storedConfig: [UInt8]
    do {
      storedConfig = try request.config.serializedBytes()
    } catch {
      throw CrispError(.invalidArgument, "config: cannot serialize: \(error)", cause: error)
    }
    var response = Runtime_V1_RunPodSandboxResponse()
    response.podSandboxID = try await runtime.runPodSandbox(spec, storedConfig: storedConfig, handler: request.runtimeHandler)
    return response
  }

  func stopPodSandbox(request: Runtime_V1_StopPodSandboxRequest) async throws -> Runtime_V1_StopPodSandboxResponse {
    try await runtime.stopPodSandbox(request.podSandboxID)
    return .init()
  }

  func removePodSandbox(request: Runtime_V1_RemovePodSandboxRequest) async throws -> Runtime_V1_RemovePodSandboxResponse {
    try await runtime.removePodSandbox(request.podSandboxID)
    return .init()
  }

  func podSandboxStatus(request: Runtime_V1_PodSandboxStatusRequest) async throws -> Runtime_V1_PodSandboxStatusResponse {
    guard !request.podSandboxID.isEmpty else { throw CrispError.invalidArgument("pod_sandbox_id is required") }
    guard let sandbox = try runtime.sandbox(request.podSandboxID) else {
      throw CrispError.notFound("pod sandbox \"\(request.podSandboxID)\" not found")
    }
    var response = Runtime_V1_PodSandboxStatusResponse()
    response.status = Self.status(sandbox)
    response.timestamp = Store.now()
    if request.verbose {
      // The verbose info reads the pod's interfaces (a netlink dump, maybe its namespace): not on the
      // socket's loop, where the plain status is answered.
      let runtime = runtime
      response.info["info"] = await withTaskExecutorPreference(globalConcurrentExecutor) {
        await Self.verboseInfo(sandbox, runtime: runtime).text
      }
    }
    return response
  }

  static func status(_ sandbox: RuntimeManager.SandboxView) -> Runtime_V1_PodSandboxStatus {
    var status = Runtime_V1_PodSandboxStatus()
    let record = sandbox.record
    status.id = record.id
    status.metadata = sandbox.config.metadata.cri
    status.state = record.state == .ready ? .sandboxReady : .sandboxNotready
    status.createdAt = record.createdAt
    if let first = record.ips.first {
      status.network.ip = first
      status.network.additionalIps = record.ips.dropFirst().map { ip in .with { $0.ip = ip } }
    }
    status.linux.namespaces.options = sandbox.config.linux.securityContext.namespaceOptions.cri
    status.labels = sandbox.config.labels
    status.annotations = sandbox.config.annotations
    status.runtimeHandler = record.runtimeHandler
    return status
  }

  func listPodSandbox(request: Runtime_V1_ListPodSandboxRequest) async throws -> Runtime_V1_ListPodSandboxResponse {
    var response = Runtime_V1_ListPodSandboxResponse()
    response.items = try filteredSandboxes(request.hasFilter ? request.filter : nil)
    return response
  }

  /// ListPodSandbox as kubelet's relist asks it every second (no filter): while no sandbox changed (same
  /// store change count, no pause exit found), the last answer's bytes are sent again.
  func serializedSandboxList(request: Runtime_V1_ListPodSandboxRequest) async throws -> [UInt8] {
    guard !request.hasFilter || request.filter == Runtime_V1_PodSandboxFilter() else {
      // A filter every kept entry matches (housekeeping's READY on a node whose pods all run) is answered
      // with the unfiltered list's bytes: the same entries in the same order.
      let filter = request.filter
      if let bytes = try sandboxList.bytes(
        at: try runtime.sandboxesGeneration(), ifEvery: { Self.matches(filter, id: $0.id, state: $0.state, labels: $0.labels) },
        encode: Self.encodeSandboxList)
      {
        return bytes
      }
      return try await listPodSandbox(request: request).serializedBytes()
    }
    let (generation, items) = try sandboxEntries()
    return try sandboxList.bytes(at: generation, items: items, encode: Self.encodeSandboxList)
  }

  static func encodeSandboxList(_ items: [Runtime_V1_PodSandbox]) throws -> [UInt8] {
    try Runtime_V1_ListPodSandboxResponse.with { $0.items = items }.serializedBytes()
  }

  func streamPodSandboxes(request: Runtime_V1_StreamPodSandboxesRequest, response: RPCWriter<Runtime_V1_StreamPodSandboxesResponse>) async throws {
    let all = try filteredSandboxes(request.hasFilter ? request.filter : nil)
    for start in stride(from: 0, to: max(all.count, 1), by: 500) {
      try await response.write(.with { $0.podSandboxes = Array(all[start..<min(start + 500, all.count)]) })
    }
  }

  /// Every sandbox's list entry as of now, with the generation it was made at: built once per generation.
  private func sandboxEntries() throws -> (generation: UInt64, items: [Runtime_V1_PodSandbox]) {
    let generation = try runtime.sandboxesGeneration()
    let items = try sandboxList.items(at: generation) { try runtime.sandboxes().map(Self.listEntry) }
    return (generation, items)
  }

  /// A filtered list filters the kept entries when they are current; while writes keep moving the
  /// generation (a burst of pod starts), only the matching sandboxes get an entry and nothing is kept.
  private func filteredSandboxes(_ filter: Runtime_V1_PodSandboxFilter?) throws -> [Runtime_V1_PodSandbox] {
    guard let filter else { return try sandboxEntries().items }
    if let kept = sandboxList.kept(at: try runtime.sandboxesGeneration()) {
      return kept.filter { Self.matches(filter, id: $0.id, state: $0.state, labels: $0.labels) }
    }
    return try runtime.sandboxes().filter { sandbox in
      Self.matches(filter, id: sandbox.record.id, state: Self.listEntryState(sandbox), labels: sandbox.config.labels)
    }.map(Self.listEntry)
  }

  static func matches(_ filter: Runtime_V1_PodSandboxFilter, id: String, state: Runtime_V1_PodSandboxState, labels: [String: String]) -> Bool {
    if !filter.id.isEmpty && !id.hasPrefix(filter.id) { return false }
    if filter.hasState && filter.state.state != state { return false }
    return filter.labelSelector.allSatisfy { labels[$0.key] == $0.value }
  }

  static func listEntryState(_ sandbox: RuntimeManager.SandboxView) -> Runtime_V1_PodSandboxState {
    sandbox.record.state == .ready ? .sandboxReady : .sandboxNotready
  }

  static func listEntry(_ sandbox: RuntimeManager.SandboxView) -> Runtime_V1_PodSandbox {
    var item = Runtime_V1_PodSandbox()
    item.id = sandbox.record.id
    item.metadata = sandbox.config.metadata.cri
    item.state = listEntryState(sandbox)
    item.createdAt = sandbox.record.createdAt
    item.labels = sandbox.config.labels
    item.annotations = sandbox.config.annotations
    item.runtimeHandler = sandbox.record.runtimeHandler
    return item
  }

  // MARK: Containers

  func createContainer(request: Runtime_V1_CreateContainerRequest) async throws -> Runtime_V1_CreateContainerResponse {
    let spec = try ContainerSpec.validated(request)
    let storedConfig: [UInt8]
    do {
      storedConfig = try request.config.serializedBytes()
    } catch {
      throw CrispError(.invalidArgument, "config: cannot serialize: \(error)", cause: error)
    }
    var response = Runtime_V1_CreateContainerResponse()
    response.containerID = try await runtime.createContainer(sandboxID: request.podSandboxID, config: spec, storedConfig: storedConfig)
    return response
  }

  func startContainer(request: Runtime_V1_StartContainerRequest) async throws -> Runtime_V1_StartContainerResponse {
    guard !request.containerID.isEmpty else { throw CrispError.invalidArgument("container_id is required") }
    try await runtime.startContainer(request.containerID)
    return .init()
  }

  func stopContainer(request: Runtime_V1_StopContainerRequest) async throws -> Runtime_V1_StopContainerResponse {
    try await runtime.stopContainer(request.containerID, timeout: max(0, request.timeout))
    return .init()
  }

  func removeContainer(request: Runtime_V1_RemoveContainerRequest) async throws -> Runtime_V1_RemoveContainerResponse {
    try await runtime.removeContainer(request.containerID)
    return .init()
  }

  func containerStatus(request: Runtime_V1_ContainerStatusRequest) async throws -> Runtime_V1_ContainerStatusResponse {
    guard !request.containerID.isEmpty else { throw CrispError.invalidArgument("container_id is required") }
    guard let container = try runtime.container(request.containerID) else {
      throw CrispError.notFound("container \"\(request.containerID)\" not found")
    }
    var response = Runtime_V1_ContainerStatusResponse()
    response.status = Self.status(container)
    response.status.resources.linux = runtime.currentResources(container).cri
    if request.verbose {
      var info = VerboseInfo()
      info["pid"] = .integer(container.record.pid)
      info["sandboxID"] = .string(container.record.sandboxID)
      info["runtimeSpec"] = .document(Self.runtimeSpec(runtime.paths.spec(container.record.id)))
      response.info["info"] = info.text
    }
    return response
  }

  static func state(_ state: ContainerRecord.State) -> Runtime_V1_ContainerState {
    switch state {
    case .created, .creating: return .containerCreated
    case .running: return .containerRunning
    case .exited: return .containerExited
    case .unknown: return .containerUnknown
    }
  }

  static func status(_ container: RuntimeManager.ContainerView) -> Runtime_V1_ContainerStatus {
    let record = container.record
    var status = Runtime_V1_ContainerStatus()
    status.id = record.id
    status.metadata = container.config.metadata.cri
    status.state = state(record.state)
    status.createdAt = record.createdAt
    status.startedAt = record.startedAt
    status.finishedAt = record.finishedAt
    status.exitCode = record.exitCode
    status.image = container.config.image.cri
    status.imageRef = record.imageID
    status.imageID = record.imageID
    status.reason = record.reason
    status.message = record.message
    status.labels = container.config.labels
    status.annotations = container.config.annotations
    status.logPath = record.logPath
    status.mounts = container.mounts.map { mount in
      var value = Runtime_V1_Mount()
      value.containerPath = mount.containerPath
      value.hostPath = mount.hostPath
      value.readonly = mount.readonly
      value.propagation = mount.propagation.cri
      value.recursiveReadOnly = mount.recursiveReadOnly
      return value
    }
    // What stopping will send (kubelet's, else the image's STOPSIGNAL, else SIGTERM), not only what was asked.
    status.stopSignal = StopSignal.cri(named: container.stopSignal)
    if let user = container.user {
      status.user.linux.uid = Int64(user.uid)
      status.user.linux.gid = Int64(user.gid)
      status.user.linux.supplementalGroups = user.processGroups.map { Int64($0) }
    }
    return status
  }

  func listContainers(request: Runtime_V1_ListContainersRequest) async throws -> Runtime_V1_ListContainersResponse {
    var response = Runtime_V1_ListContainersResponse()
    response.containers = try filteredContainers(request.hasFilter ? request.filter : nil)
    return response
  }

  /// ListContainers as kubelet's relist asks it every second (no filter): while no container changed
  /// (same store change count, no new exit), the last answer's bytes are sent again, without building and
  /// encoding fifty entries.
  func serializedContainerList(request: Runtime_V1_ListContainersRequest) async throws -> [UInt8] {
    guard !request.hasFilter || request.filter == Runtime_V1_ContainerFilter() else {
      // As for sandboxes: a filter every kept entry matches (RUNNING, all running) sends the saved bytes.
      let filter = request.filter
      if let bytes = try containerList.bytes(
        at: try runtime.containersGeneration(),
        ifEvery: { Self.matches(filter, id: $0.id, sandboxID: $0.podSandboxID, state: $0.state, labels: $0.labels) },
        encode: Self.encodeContainerList)
      {
        return bytes
      }
      return try await listContainers(request: request).serializedBytes()
    }
    let (generation, items) = try containerEntries()
    return try containerList.bytes(at: generation, items: items, encode: Self.encodeContainerList)
  }

  static func encodeContainerList(_ items: [Runtime_V1_Container]) throws -> [UInt8] {
    try Runtime_V1_ListContainersResponse.with { $0.containers = items }.serializedBytes()
  }

  func streamContainers(request: Runtime_V1_StreamContainersRequest, response: RPCWriter<Runtime_V1_StreamContainersResponse>) async throws {
    let all = try filteredContainers(request.hasFilter ? request.filter : nil)
    for start in stride(from: 0, to: max(all.count, 1), by: 500) {
      try await response.write(.with { $0.containers = Array(all[start..<min(start + 500, all.count)]) })
    }
  }

  /// Every container's list entry as of now, with the generation it was made at: built once per generation.
  private func containerEntries() throws -> (generation: UInt64, items: [Runtime_V1_Container]) {
    let generation = try runtime.containersGeneration()
    let items = try containerList.items(at: generation) { try runtime.containers().map(Self.listEntry) }
    return (generation, items)
  }

  /// As ``filteredSandboxes(_:)``: kept entries when current, else entries for the matching containers only.
  private func filteredContainers(_ filter: Runtime_V1_ContainerFilter?) throws -> [Runtime_V1_Container] {
    guard let filter else { return try containerEntries().items }
    if let kept = containerList.kept(at: try runtime.containersGeneration()) {
      return kept.filter { Self.matches(filter, id: $0.id, sandboxID: $0.podSandboxID, state: $0.state, labels: $0.labels) }
    }
    return try runtime.containers().filter { container in
      Self.matches(
        filter, id: container.record.id, sandboxID: container.record.sandboxID, state: Self.state(container.record.state),
        labels: container.config.labels)
    }.map(Self.listEntry)
  }

  static func matches(
    _ filter: Runtime_V1_ContainerFilter, id: String, sandboxID: String, state: Runtime_V1_ContainerState, labels: [String: String]
  ) -> Bool {
    if !filter.id.isEmpty && !id.hasPrefix(filter.id) { return false }
    if !filter.podSandboxID.isEmpty && !sandboxID.hasPrefix(filter.podSandboxID) { return false }
    if filter.hasState && filter.state.state != state { return false }
    return filter.labelSelector.allSatisfy { labels[$0.key] == $0.value }
  }

  static func listEntry(_ container: RuntimeManager.ContainerView) -> Runtime_V1_Container {
    var item = Runtime_V1_Container()
    item.id = container.record.id
    item.podSandboxID = container.record.sandboxID
    item.metadata = container.config.metadata.cri
    item.image = container.config.image.cri
    item.imageRef = container.record.imageID
    item.imageID = container.record.imageID
    item.state = Self.state(container.record.state)
    item.createdAt = container.record.createdAt
    item.labels = container.config.labels
    item.annotations = container.config.annotations
    return item
  }

  func execSync(request: Runtime_V1_ExecSyncRequest) async throws -> Runtime_V1_ExecSyncResponse {
    guard !request.containerID.isEmpty else { throw CrispError.invalidArgument("container_id is required") }
    let result = try await runtime.execSync(request.containerID, command: request.cmd, timeout: request.timeout)
    var response = Runtime_V1_ExecSyncResponse()
    response.stdout = Data(result.stdout)
    response.stderr = Data(result.stderr)
    response.exitCode = result.status
    return response
  }

  func reopenContainerLog(request: Runtime_V1_ReopenContainerLogRequest) async throws -> Runtime_V1_ReopenContainerLogResponse {
    guard !request.containerID.isEmpty else { throw CrispError.invalidArgument("container_id is required") }
    try await runtime.reopenContainerLog(request.containerID)
    return .init()
  }
}
