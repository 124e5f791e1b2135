import CRIAPI
import Foundation

/// The pods of the node scenario, shaped as kubelet shapes them: kubelet's labels (which its status
/// lookups filter on), a cgroup of the pod's own (kubelet gives every pod `kubepods/<class>/pod<uid>`, so a
/// pod's stats read a cgroup holding only that pod), a log directory, and one busybox `sleep` container with a memory
/// limit and CPU shares, as a pod with `resources.limits.memory: 64Mi` gets.
struct NodePodSpec: Sendable {
  let image: String
  /// Where the pods' cgroups go (`<cgroupParent>/pod<uid>`), one per endpoint, so what a runtime leaves
  /// behind is its own.
  let cgroupParent: String
  let logRoot: String
  static let memoryLimit: Int64 = 64 << 20
  static let namespace = "crisp-bench-node"

  func pod(_ index: Int) -> NodePod {
    let uid = UUID().uuidString.lowercased()
    let name = "node-pod-\(index)"
    let labels = [
      "io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": Self.namespace, "io.kubernetes.pod.uid": uid,
    ]
    let sandbox = Runtime_V1_PodSandboxConfig.with {
      $0.metadata.name = name
      $0.metadata.namespace = Self.namespace
      $0.metadata.uid = uid
      $0.hostname = name
      $0.logDirectory = "\(logRoot)/\(Self.namespace)_\(name)_\(uid)"
      $0.labels = labels
      $0.annotations = ["kubernetes.io/config.source": "api"]
      $0.linux.cgroupParent = "\(cgroupParent)/pod\(uid)"
    }
    let container = Runtime_V1_ContainerConfig.with {
      $0.metadata.name = "sleep"
      $0.image.image = image
      $0.command = ["/bin/sleep", "3600"]
      $0.logPath = "sleep/0.log"
      $0.labels = labels.merging(["io.kubernetes.container.name": "sleep"]) { a, _ in a }
      $0.linux.resources.memoryLimitInBytes = Self.memoryLimit
      $0.linux.resources.cpuShares = 2
    }
    return NodePod(index: index, uid: uid, sandboxConfig: sandbox, containerConfig: container)
  }
}
