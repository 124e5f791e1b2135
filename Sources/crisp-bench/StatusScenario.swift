import CRIAPI
import Foundation

/// The `status` scenario: the small calls kubelet and its tools make all the time, timed one by one on an
/// open connection. critest's benchmark asks PodSandboxStatus and ContainerStatus with `verbose`, kubelet
/// without; both are measured. Each runtime gets one running pod with one container of its own.
extension PodBench {
  func statusCalls() async {
    var pods: [String: String] = [:]
    var containers: [String: String] = [:]
    for endpoint in endpoints {
      let created = try? await endpoint.withClients { runtime, _ in
        let config = podConfig("bench-status")
        let pod = try await runtime.runPodSandbox(.with { $0.config = config }).podSandboxID
        let container = try await runtime.createContainer(
          .with {
            $0.podSandboxID = pod; $0.config = containerConfig("c"); $0.sandboxConfig = config
          }
        ).containerID
        _ = try await runtime.startContainer(.with { $0.containerID = container })
        return (pod, container)
      }
      if let created {
        pods[endpoint.name] = created.0
        containers[endpoint.name] = created.1
      }
    }
    let service = "/runtime.v1.RuntimeService/"
    for verbose in [false, true] {
      let suffix = verbose ? ", verbose" : ""
      await leanCalls(
        endpoints, report, "PodSandboxStatus\(suffix)", target: "≤ 0.8", method: service + "PodSandboxStatus",
        requests: pods.mapValues { id in
          Runtime_V1_PodSandboxStatusRequest.with {
            $0.podSandboxID = id; $0.verbose = verbose
          }
        },
        response: Runtime_V1_PodSandboxStatusResponse.self)
      await leanCalls(
        endpoints, report, "ContainerStatus\(suffix)", target: "≤ 0.8", method: service + "ContainerStatus",
        requests: containers.mapValues { id in
          Runtime_V1_ContainerStatusRequest.with {
            $0.containerID = id; $0.verbose = verbose
          }
        },
        response: Runtime_V1_ContainerStatusResponse.self)
      await leanCalls(
        endpoints, report, "ImageStatus\(suffix)", target: "≤ 0.8", method: "/runtime.v1.ImageService/ImageStatus",
        request: Runtime_V1_ImageStatusRequest.with {
          $0.image.image = image; $0.verbose = verbose
        },
        response: Runtime_V1_ImageStatusResponse.self)
    }
    await leanCalls(
      endpoints, report, "ListImages", target: "≤ 0.8", method: "/runtime.v1.ImageService/ListImages", request: Runtime_V1_ListImagesRequest(),
      response: Runtime_V1_ListImagesResponse.self)
    await leanCalls(
      endpoints, report, "ImageFsInfo", target: "≤ 0.8", method: "/runtime.v1.ImageService/ImageFsInfo", request: Runtime_V1_ImageFsInfoRequest(),
      response: Runtime_V1_ImageFsInfoResponse.self)
    for endpoint in endpoints {
      guard let pod = pods[endpoint.name] else { continue }
      _ = try? await endpoint.withClients { runtime, _ in
        _ = try? await runtime.stopPodSandbox(.with { $0.podSandboxID = pod })
        _ = try? await runtime.removePodSandbox(.with { $0.podSandboxID = pod })
      }
    }
  }
}
