import CRIAPI
import Tracing

// The CRI messages whose ids a call's span carries (``SpanDescribing``). Attribute names follow
// OpenTelemetry's Kubernetes conventions where they have one (`k8s.pod.*`, `k8s.namespace.name`,
// `k8s.container.name`); the runtime's own ids are `crisp.pod_sandbox_id` and `crisp.container_id`.

extension Runtime_V1_RunPodSandboxRequest: SpanDescribing {
  func describe(_ span: any Span) {
    span.setRequestText("k8s.pod.name", config.metadata.name)
    span.setRequestText("k8s.namespace.name", config.metadata.namespace)
    span.setRequestText("k8s.pod.uid", config.metadata.uid)
    if !runtimeHandler.isEmpty { span.setRequestText("crisp.runtime_handler", runtimeHandler) }
  }
}

extension Runtime_V1_RunPodSandboxResponse: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.pod_sandbox_id", podSandboxID) }
}

extension Runtime_V1_StopPodSandboxRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.pod_sandbox_id", podSandboxID) }
}

extension Runtime_V1_RemovePodSandboxRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.pod_sandbox_id", podSandboxID) }
}

extension Runtime_V1_PodSandboxStatusRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.pod_sandbox_id", podSandboxID) }
}

extension Runtime_V1_PodSandboxStatsRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.pod_sandbox_id", podSandboxID) }
}

extension Runtime_V1_PortForwardRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.pod_sandbox_id", podSandboxID) }
}

extension Runtime_V1_CreateContainerRequest: SpanDescribing {
  func describe(_ span: any Span) {
    span.setRequestText("crisp.pod_sandbox_id", podSandboxID)
    span.setRequestText("k8s.container.name", config.metadata.name)
    span.setRequestText("k8s.pod.name", sandboxConfig.metadata.name)
    span.setRequestText("k8s.namespace.name", sandboxConfig.metadata.namespace)
  }
}

extension Runtime_V1_CreateContainerResponse: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.container_id", containerID) }
}

extension Runtime_V1_StartContainerRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.container_id", containerID) }
}

extension Runtime_V1_StopContainerRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.container_id", containerID) }
}

extension Runtime_V1_RemoveContainerRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.container_id", containerID) }
}

extension Runtime_V1_ContainerStatusRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.container_id", containerID) }
}

extension Runtime_V1_ExecSyncRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.container_id", containerID) }
}

extension Runtime_V1_ExecRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.container_id", containerID) }
}

extension Runtime_V1_AttachRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.container_id", containerID) }
}

extension Runtime_V1_ContainerStatsRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.container_id", containerID) }
}

extension Runtime_V1_ReopenContainerLogRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.container_id", containerID) }
}

extension Runtime_V1_UpdateContainerResourcesRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.container_id", containerID) }
}

extension Runtime_V1_PullImageRequest: SpanDescribing {
  func describe(_ span: any Span) { span.setRequestText("crisp.image", image.image) }
}
