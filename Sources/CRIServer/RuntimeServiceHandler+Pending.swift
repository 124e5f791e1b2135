import CRIAPI
import GRPCCore

// The RuntimeService calls whose areas are not built yet: each answers UNIMPLEMENTED naming itself and the
// area that brings it (README, "What works today"). Implemented calls live in RuntimeServiceHandler*.swift.
extension RuntimeServiceHandler {
  func updateContainerResources(request: Runtime_V1_UpdateContainerResourcesRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_UpdateContainerResourcesResponse {
    throw notImplemented("UpdateContainerResources", "security and resources")
  }

  func exec(request: Runtime_V1_ExecRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ExecResponse {
    throw notImplemented("Exec", "the streaming server")
  }

  func attach(request: Runtime_V1_AttachRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_AttachResponse {
    throw notImplemented("Attach", "the streaming server")
  }

  func portForward(request: Runtime_V1_PortForwardRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_PortForwardResponse {
    throw notImplemented("PortForward", "the streaming server")
  }

  func containerStats(request: Runtime_V1_ContainerStatsRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ContainerStatsResponse {
    throw notImplemented("ContainerStats", "stats")
  }

  func listContainerStats(request: Runtime_V1_ListContainerStatsRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ListContainerStatsResponse {
    throw notImplemented("ListContainerStats", "stats")
  }

  func streamContainerStats(request: Runtime_V1_StreamContainerStatsRequest, response: GRPCCore.RPCWriter<Runtime_V1_StreamContainerStatsResponse>, context: GRPCCore.ServerContext) async throws {
    throw notImplemented("StreamContainerStats", "stats")
  }

  func podSandboxStats(request: Runtime_V1_PodSandboxStatsRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_PodSandboxStatsResponse {
    throw notImplemented("PodSandboxStats", "stats")
  }

  func listPodSandboxStats(request: Runtime_V1_ListPodSandboxStatsRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ListPodSandboxStatsResponse {
    throw notImplemented("ListPodSandboxStats", "stats")
  }

  func streamPodSandboxStats(request: Runtime_V1_StreamPodSandboxStatsRequest, response: GRPCCore.RPCWriter<Runtime_V1_StreamPodSandboxStatsResponse>, context: GRPCCore.ServerContext) async throws {
    throw notImplemented("StreamPodSandboxStats", "stats")
  }

  func checkpointContainer(request: Runtime_V1_CheckpointContainerRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_CheckpointContainerResponse {
    throw notImplemented("CheckpointContainer", "no planned release (checkpoint/restore is not supported)")
  }

  func getContainerEvents(request: Runtime_V1_GetEventsRequest, response: GRPCCore.RPCWriter<Runtime_V1_ContainerEventResponse>, context: GRPCCore.ServerContext) async throws {
    throw notImplemented("GetContainerEvents", "container events")
  }

  func listMetricDescriptors(request: Runtime_V1_ListMetricDescriptorsRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ListMetricDescriptorsResponse {
    throw notImplemented("ListMetricDescriptors", "stats")
  }

  func listPodSandboxMetrics(request: Runtime_V1_ListPodSandboxMetricsRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ListPodSandboxMetricsResponse {
    throw notImplemented("ListPodSandboxMetrics", "stats")
  }

  func streamPodSandboxMetrics(request: Runtime_V1_StreamPodSandboxMetricsRequest, response: GRPCCore.RPCWriter<Runtime_V1_StreamPodSandboxMetricsResponse>, context: GRPCCore.ServerContext) async throws {
    throw notImplemented("StreamPodSandboxMetrics", "stats")
  }

  func updatePodSandboxResources(request: Runtime_V1_UpdatePodSandboxResourcesRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_UpdatePodSandboxResourcesResponse {
    throw notImplemented("UpdatePodSandboxResources", "security and resources")
  }

}
