import CRIAPI
import CrispCore
import GRPCCore
import Runtime

/// Container and pod stats: cgroup counters (v1 or v2), writable layers, and the pods' interface counters.
extension RuntimeServiceHandler {
  func containerStats(request: Runtime_V1_ContainerStatsRequest) async throws -> Runtime_V1_ContainerStatsResponse {
    guard !request.containerID.isEmpty else { throw CrispError.invalidArgument("container_id is required") }
    let stats = CRIStats.container(try runtime.containerStats(request.containerID))
    return .with { $0.stats = stats }
  }

  /// ListContainerStats, encoded entry by entry inside the stats pass (``EncodedList``).
  func serializedContainerStatsList(request: Runtime_V1_ListContainerStatsRequest) async throws -> [UInt8] {
    let filter = request.hasFilter ? Self.filter(request.filter) : nil
    return try EncodedList.response(try await runtime.listContainerStats(filter) { EncodedList.entry(CRIStats.container($0)) })
  }

  func streamContainerStats(
    request: Runtime_V1_StreamContainerStatsRequest, response: RPCWriter<Runtime_V1_StreamContainerStatsResponse>
  ) async throws {
    let all = try await runtime.listContainerStats(request.hasFilter ? Self.filter(request.filter) : nil, each: CRIStats.container)
    for start in stride(from: 0, to: max(all.count, 1), by: 200) {
      try await response.write(.with { $0.containerStats = Array(all[start..<min(start + 200, all.count)]) })
    }
  }

  func podSandboxStats(request: Runtime_V1_PodSandboxStatsRequest) async throws -> Runtime_V1_PodSandboxStatsResponse {
    guard !request.podSandboxID.isEmpty else { throw CrispError.invalidArgument("pod_sandbox_id is required") }
    let stats = CRIStats.pod(try await runtime.podSandboxStats(request.podSandboxID))
    return .with { $0.stats = stats }
  }

  /// ListPodSandboxStats, encoded entry by entry inside the stats pass (``EncodedList``).
  func serializedPodStatsList(request: Runtime_V1_ListPodSandboxStatsRequest) async throws -> [UInt8] {
    let filter = request.hasFilter ? Self.filter(request.filter) : nil
    return try EncodedList.response(try await runtime.listPodSandboxStats(filter) { EncodedList.entry(CRIStats.pod($0)) })
  }

  func streamPodSandboxStats(
    request: Runtime_V1_StreamPodSandboxStatsRequest, response: RPCWriter<Runtime_V1_StreamPodSandboxStatsResponse>
  ) async throws {
    let all = try await runtime.listPodSandboxStats(request.hasFilter ? Self.filter(request.filter) : nil, each: CRIStats.pod)
    for start in stride(from: 0, to: max(all.count, 1), by: 100) {
      try await response.write(.with { $0.podSandboxStats = Array(all[start..<min(start + 100, all.count)]) })
    }
  }

  static func filter(_ filter: Runtime_V1_ContainerStatsFilter) -> ContainerStatsFilter {
    ContainerStatsFilter(id: filter.id, podSandboxID: filter.podSandboxID, labelSelector: filter.labelSelector)
  }

  static func filter(_ filter: Runtime_V1_PodSandboxStatsFilter) -> PodStatsFilter {
    PodStatsFilter(id: filter.id, labelSelector: filter.labelSelector)
  }
}

/// cAdvisor-named pod and container metrics (kubelet's /metrics/cadvisor with PodAndContainerStatsFromCRI).
extension RuntimeServiceHandler {
  func listMetricDescriptors(request: Runtime_V1_ListMetricDescriptorsRequest) async throws -> Runtime_V1_ListMetricDescriptorsResponse {
    .with { $0.descriptors = CRIStats.descriptors }
  }

  func listPodSandboxMetrics(request: Runtime_V1_ListPodSandboxMetricsRequest) async throws -> Runtime_V1_ListPodSandboxMetricsResponse {
    let metrics = try await runtime.podSandboxMetrics().map(CRIStats.metrics)
    return .with { $0.podMetrics = metrics }
  }

  func streamPodSandboxMetrics(
    request: Runtime_V1_StreamPodSandboxMetricsRequest, response: RPCWriter<Runtime_V1_StreamPodSandboxMetricsResponse>
  ) async throws {
    let all = try await runtime.podSandboxMetrics().map(CRIStats.metrics)
    for start in stride(from: 0, to: max(all.count, 1), by: 100) {
      try await response.write(.with { $0.podSandboxMetrics = Array(all[start..<min(start + 100, all.count)]) })
    }
  }
}

/// GetContainerEvents: lifecycle events for kubelet's evented PLEG.
extension RuntimeServiceHandler {
  func getContainerEvents(
    request: Runtime_V1_GetEventsRequest, response: RPCWriter<Runtime_V1_ContainerEventResponse>
  ) async throws {
    // Ends when the client goes away (the iteration is cancelled) or falls too far behind (RESOURCE_EXHAUSTED).
    for try await event in runtime.events.subscribe() {
      var message = Runtime_V1_ContainerEventResponse()
      message.containerID = event.containerID
      message.createdAt = event.timestamp
      switch event.kind {
      case .created: message.containerEventType = .containerCreatedEvent
      case .started: message.containerEventType = .containerStartedEvent
      case .stopped: message.containerEventType = .containerStoppedEvent
      case .deleted: message.containerEventType = .containerDeletedEvent
      }
      if let sandbox = try? runtime.sandbox(event.sandboxID) {
        message.podSandboxStatus = Self.status(sandbox)
        let containers = (try? runtime.containers()) ?? []
        message.containersStatuses = containers.filter { $0.record.sandboxID == event.sandboxID }.map { Self.status($0) }
      }
      try await response.write(message)
    }
  }
}

/// Resource updates.
extension RuntimeServiceHandler {
  func updateContainerResources(request: Runtime_V1_UpdateContainerResourcesRequest) async throws -> Runtime_V1_UpdateContainerResourcesResponse {
    guard !request.containerID.isEmpty else { throw CrispError.invalidArgument("container_id is required") }
    guard request.hasLinux else { throw CrispError.invalidArgument("linux resources are required (windows resources do not apply here)") }
    try await runtime.updateContainerResources(request.containerID, linux: ContainerResources(request.linux))
    return .init()
  }

  func updatePodSandboxResources(request: Runtime_V1_UpdatePodSandboxResourcesRequest) async throws -> Runtime_V1_UpdatePodSandboxResourcesResponse {
    guard !request.podSandboxID.isEmpty else { throw CrispError.invalidArgument("pod_sandbox_id is required") }
    try runtime.updatePodSandboxResources(
      request.podSandboxID, overhead: request.hasOverhead ? ContainerResources(request.overhead) : nil,
      resources: request.hasResources ? ContainerResources(request.resources) : nil)
    return .init()
  }
}
