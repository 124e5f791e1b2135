import CRIAPI
import GRPCCore

// The RuntimeService calls whose areas are not built yet: each answers UNIMPLEMENTED naming itself and the
// area that brings it (README, "What works today"). Implemented calls live in RuntimeServiceHandler.swift.
extension RuntimeServiceHandler {
  func runPodSandbox(request: Runtime_V1_RunPodSandboxRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_RunPodSandboxResponse {
    throw notImplemented("RunPodSandbox", "the runtime core (pod sandboxes)")
  }

  func stopPodSandbox(request: Runtime_V1_StopPodSandboxRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_StopPodSandboxResponse {
    throw notImplemented("StopPodSandbox", "the runtime core (pod sandboxes)")
  }

  func removePodSandbox(request: Runtime_V1_RemovePodSandboxRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_RemovePodSandboxResponse {
    throw notImplemented("RemovePodSandbox", "the runtime core (pod sandboxes)")
  }

  func podSandboxStatus(request: Runtime_V1_PodSandboxStatusRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_PodSandboxStatusResponse {
    throw notImplemented("PodSandboxStatus", "the runtime core (pod sandboxes)")
  }

  func listPodSandbox(request: Runtime_V1_ListPodSandboxRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ListPodSandboxResponse {
    throw notImplemented("ListPodSandbox", "the runtime core (pod sandboxes)")
  }

  func streamPodSandboxes(request: Runtime_V1_StreamPodSandboxesRequest, response: GRPCCore.RPCWriter<Runtime_V1_StreamPodSandboxesResponse>, context: GRPCCore.ServerContext) async throws {
    throw notImplemented("StreamPodSandboxes", "the runtime core (pod sandboxes)")
  }

  func createContainer(request: Runtime_V1_CreateContainerRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_CreateContainerResponse {
    throw notImplemented("CreateContainer", "the runtime core (containers)")
  }

  func startContainer(request: Runtime_V1_StartContainerRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_StartContainerResponse {
    throw notImplemented("StartContainer", "the runtime core (containers)")
  }

  func stopContainer(request: Runtime_V1_StopContainerRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_StopContainerResponse {
    throw notImplemented("StopContainer", "the runtime core (containers)")
  }

  func removeContainer(request: Runtime_V1_RemoveContainerRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_RemoveContainerResponse {
    throw notImplemented("RemoveContainer", "the runtime core (containers)")
  }

  func listContainers(request: Runtime_V1_ListContainersRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ListContainersResponse {
    throw notImplemented("ListContainers", "the runtime core (containers)")
  }

  func streamContainers(request: Runtime_V1_StreamContainersRequest, response: GRPCCore.RPCWriter<Runtime_V1_StreamContainersResponse>, context: GRPCCore.ServerContext) async throws {
    throw notImplemented("StreamContainers", "the runtime core (containers)")
  }

  func containerStatus(request: Runtime_V1_ContainerStatusRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ContainerStatusResponse {
    throw notImplemented("ContainerStatus", "the runtime core (containers)")
  }

  func updateContainerResources(request: Runtime_V1_UpdateContainerResourcesRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_UpdateContainerResourcesResponse {
    throw notImplemented("UpdateContainerResources", "security and resources")
  }

  func reopenContainerLog(request: Runtime_V1_ReopenContainerLogRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ReopenContainerLogResponse {
    throw notImplemented("ReopenContainerLog", "the runtime core (containers)")
  }

  func execSync(request: Runtime_V1_ExecSyncRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ExecSyncResponse {
    throw notImplemented("ExecSync", "the runtime core (containers)")
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

  func updateRuntimeConfig(request: Runtime_V1_UpdateRuntimeConfigRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_UpdateRuntimeConfigResponse {
    throw notImplemented("UpdateRuntimeConfig", "pod networking (CNI conf_template)")
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
