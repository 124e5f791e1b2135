import CRIAPI
import CrispCore
import GRPCCore
import Runtime

/// Container and pod stats: cgroup counters (v1 or v2), writable layers, and the pods' interface counters.
extension RuntimeServiceHandler {
  func containerStats(request: Runtime_V1_ContainerStatsRequest, context: ServerContext) async throws -> Runtime_V1_ContainerStatsResponse {
    guard !request.containerID.isEmpty else { throw CrispError.invalidArgument("container_id is required") }
    let stats = try runtime.containerStats(request.containerID)
    return .with { $0.stats = stats }
  }

  func listContainerStats(request: Runtime_V1_ListContainerStatsRequest, context: ServerContext) async throws -> Runtime_V1_ListContainerStatsResponse {
    let stats = try runtime.listContainerStats(request.hasFilter ? request.filter : nil)
    return .with { $0.stats = stats }
  }

  func streamContainerStats(
    request: Runtime_V1_StreamContainerStatsRequest, response: RPCWriter<Runtime_V1_StreamContainerStatsResponse>, context: ServerContext
  ) async throws {
    let all = try runtime.listContainerStats(request.hasFilter ? request.filter : nil)
    for start in stride(from: 0, to: max(all.count, 1), by: 200) {
      try await response.write(.with { $0.containerStats = Array(all[start..<min(start + 200, all.count)]) })
    }
  }

  func podSandboxStats(request: Runtime_V1_PodSandboxStatsRequest, context: ServerContext) async throws -> Runtime_V1_PodSandboxStatsResponse {
    guard !request.podSandboxID.isEmpty else { throw CrispError.invalidArgument("pod_sandbox_id is required") }
    let stats = try await runtime.podSandboxStats(request.podSandboxID)
    return .with { $0.stats = stats }
  }

  func listPodSandboxStats(request: Runtime_V1_ListPodSandboxStatsRequest, context: ServerContext) async throws -> Runtime_V1_ListPodSandboxStatsResponse {
    let stats = try await runtime.listPodSandboxStats(request.hasFilter ? request.filter : nil)
    return .with { $0.stats = stats }
  }

  func streamPodSandboxStats(
    request: Runtime_V1_StreamPodSandboxStatsRequest, response: RPCWriter<Runtime_V1_StreamPodSandboxStatsResponse>, context: ServerContext
  ) async throws {
    let all = try await runtime.listPodSandboxStats(request.hasFilter ? request.filter : nil)
    for start in stride(from: 0, to: max(all.count, 1), by: 100) {
      try await response.write(.with { $0.podSandboxStats = Array(all[start..<min(start + 100, all.count)]) })
    }
  }
}
