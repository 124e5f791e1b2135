import CRIAPI
import GRPCCore

// The RuntimeService calls whose areas are not built yet: each answers UNIMPLEMENTED naming itself and the
// area that brings it (README, "What works today"). Implemented calls live in RuntimeServiceHandler*.swift.
extension RuntimeServiceHandler {
  func checkpointContainer(request: Runtime_V1_CheckpointContainerRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_CheckpointContainerResponse {
    throw notImplemented("CheckpointContainer", "no planned release (checkpoint/restore is not supported)")
  }


  func listMetricDescriptors(request: Runtime_V1_ListMetricDescriptorsRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ListMetricDescriptorsResponse {
    throw notImplemented("ListMetricDescriptors", "the cAdvisor-style metrics (pod stats work: ListPodSandboxStats)")
  }

  func listPodSandboxMetrics(request: Runtime_V1_ListPodSandboxMetricsRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ListPodSandboxMetricsResponse {
    throw notImplemented("ListPodSandboxMetrics", "the cAdvisor-style metrics (pod stats work: ListPodSandboxStats)")
  }

  func streamPodSandboxMetrics(request: Runtime_V1_StreamPodSandboxMetricsRequest, response: GRPCCore.RPCWriter<Runtime_V1_StreamPodSandboxMetricsResponse>, context: GRPCCore.ServerContext) async throws {
    throw notImplemented("StreamPodSandboxMetrics", "the cAdvisor-style metrics (pod stats work: ListPodSandboxStats)")
  }

}
