import CRIAPI

/// One pod of the node scenario: the configs kubelet would send, and the ids the runtime gave back.
struct NodePod: Sendable {
  let index: Int
  let uid: String
  let sandboxConfig: Runtime_V1_PodSandboxConfig
  let containerConfig: Runtime_V1_ContainerConfig
  var sandboxID: String?
  var containerID: String?
}
