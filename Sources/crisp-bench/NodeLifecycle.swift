import CRIAPI

/// Starts and tears down the node scenario's pods the way kubelet's pod workers do, `parallelism` pods at
/// a time (kubelet starts pods on separate workers; 10 matches its default parallel image pulls and the
/// concurrency seen on a busy node).
///
/// A pod start is kubelet's `SyncPod` for a new pod: RunPodSandbox, PodSandboxStatus (kubelet reads the
/// pod IP), ImageStatus (the image manager's `EnsureImageExists` with `IfNotPresent`), CreateContainer,
/// StartContainer, then the PLEG's `GetPodStatus` for the started container: ListPodSandbox and
/// ListContainers filtered by the pod's uid label, PodSandboxStatus and ContainerStatus.
/// A teardown is `killPod` then the container and sandbox garbage collection: StopContainer, StopPodSandbox,
/// RemoveContainer, RemovePodSandbox. StopContainer gets timeout 0: busybox `sleep` as PID 1 ignores
/// SIGTERM, so any grace period would be waited in full and the teardown would measure only that wait.
struct NodeLifecycle: Sendable {
  let connection: KubeletConnection
  let parallelism: Int

  func start(_ pods: [NodePod]) async -> [NodePod] {
    await Self.forEach(pods, parallelism: parallelism) { pod in await startOne(pod) }
  }

  func teardown(_ pods: [NodePod]) async {
    _ = await Self.forEach(pods, parallelism: parallelism) { pod in
      await teardownOne(pod)
      return pod
    }
  }

  private func startOne(_ pod: NodePod) async -> NodePod {
    var pod = pod
    let c = connection
    let config = pod.sandboxConfig
    guard
      let sandbox = await c.call(
        .start, "RunPodSandbox", Runtime_V1_RunPodSandboxRequest.with { $0.config = config }, as: Runtime_V1_RunPodSandboxResponse.self)
    else { return pod }
    let sandboxID = sandbox.podSandboxID
    pod.sandboxID = sandboxID
    await c.call(
      .start, "PodSandboxStatus", Runtime_V1_PodSandboxStatusRequest.with { $0.podSandboxID = sandboxID },
      as: Runtime_V1_PodSandboxStatusResponse.self)
    let image = pod.containerConfig.image
    await c.call(
      .start, "ImageStatus", service: "ImageService", Runtime_V1_ImageStatusRequest.with { $0.image = image },
      as: Runtime_V1_ImageStatusResponse.self)
    let containerConfig = pod.containerConfig
    guard
      let created = await c.call(
        .start, "CreateContainer",
        Runtime_V1_CreateContainerRequest.with {
          $0.podSandboxID = sandboxID; $0.config = containerConfig; $0.sandboxConfig = config
        }, as: Runtime_V1_CreateContainerResponse.self)
    else { return pod }
    let containerID = created.containerID
    pod.containerID = containerID
    await c.call(
      .start, "StartContainer", Runtime_V1_StartContainerRequest.with { $0.containerID = containerID }, as: Runtime_V1_StartContainerResponse.self)
    await NodePolling.podStatus(c, .start, uid: pod.uid, sandboxID: sandboxID, containerIDs: [containerID])
    return pod
  }

  private func teardownOne(_ pod: NodePod) async {
    let c = connection
    guard let sandboxID = pod.sandboxID else { return }
    if let containerID = pod.containerID {
      await c.call(
        .teardown, "StopContainer",
        Runtime_V1_StopContainerRequest.with {
          $0.containerID = containerID; $0.timeout = 0
        }, as: Runtime_V1_StopContainerResponse.self)
    }
    await c.call(
      .teardown, "StopPodSandbox", Runtime_V1_StopPodSandboxRequest.with { $0.podSandboxID = sandboxID }, as: Runtime_V1_StopPodSandboxResponse.self)
    if let containerID = pod.containerID {
      await c.call(
        .teardown, "RemoveContainer", Runtime_V1_RemoveContainerRequest.with { $0.containerID = containerID },
        as: Runtime_V1_RemoveContainerResponse.self)
    }
    await c.call(
      .teardown, "RemovePodSandbox", Runtime_V1_RemovePodSandboxRequest.with { $0.podSandboxID = sandboxID },
      as: Runtime_V1_RemovePodSandboxResponse.self)
  }

  /// Runs `body` on every pod, at most `parallelism` at once, and returns the results in the pods' order.
  static func forEach(_ pods: [NodePod], parallelism: Int, _ body: @escaping @Sendable (NodePod) async -> NodePod) async -> [NodePod] {
    var results = pods
    await withTaskGroup(of: (Int, NodePod).self) { group in
      var next = 0
      let width = max(1, min(parallelism, pods.count))
      while next < width {
        let index = next, pod = pods[index]
        group.addTask { (index, await body(pod)) }
        next += 1
      }
      while let done = await group.next() {
        if results.indices.contains(done.0) { results[done.0] = done.1 }
        if next < pods.count {
          let index = next, pod = pods[index]
          group.addTask { (index, await body(pod)) }
          next += 1
        }
      }
    }
    return results
  }

  /// Removes every pod of the scenario's namespace the runtime still lists (a pod whose start answer was
  /// lost, or whose teardown failed), untimed; returns how many there were.
  static func sweep(_ endpoint: CRIEndpoint) async -> Int? {
    (try? await endpoint.withClients { runtime, _ in
      let listed = try await runtime.listPodSandbox(
        .with { $0.filter.labelSelector = ["io.kubernetes.pod.namespace": NodePodSpec.namespace] })
      for item in listed.items {
        _ = try? await runtime.stopPodSandbox(.with { $0.podSandboxID = item.id })
        _ = try? await runtime.removePodSandbox(.with { $0.podSandboxID = item.id })
      }
      return listed.items.count
    })
  }
}
