import CRIAPI

/// kubelet's calls while its pods just run, each loop on its own task over the one connection, as kubelet's
/// goroutines do. Each loop runs its work, then waits its period (kubelet's `wait.Until`, which counts the
/// period from the end of the work):
/// - PLEG relist, every 1 s: ListPodSandbox and ListContainers, unfiltered (generic PLEG `relist`).
/// - housekeeping, every 2 s: the runtime cache's `GetPods`, ListPodSandbox (state READY) and ListContainers
///   (state RUNNING).
/// - runtime status, every 5 s: Status (`updateRuntimeUp`).
/// - node status, every 10 s: Version (the node's runtime version).
/// - stats, every 10 s: ListPodSandboxStats, ListContainerStats, ImageFsInfo (the CRI stats provider behind
///   the summary API that the eviction manager and metrics-server poll).
/// - image cache, every 30 s: ListImages (the image manager's list for the node status).
/// - image garbage collection, every 5 min from the start: ListImages, ListPodSandbox and ListContainers
///   (`detectImages`), ImageFsInfo.
/// - pod sync: each pod once per sync period (`--sync-frequency`, 60 s), the pods spread evenly over the
///   period: `GetPodStatus`, which is ListPodSandbox and ListContainers filtered by the pod's uid label,
///   PodSandboxStatus (verbose false) and ContainerStatus for its container. kubelet refreshes a pod's status
///   this way when its PLEG sees a change and on reinspection; a full resync of every pod each period is the
///   upper end of that work, and what a node with churning or probed pods comes close to.
struct NodePolling: Sendable {
  let connection: KubeletConnection
  static let syncPeriod: Duration = .seconds(60)

  func run(_ pods: [NodePod], for duration: Duration) async {
    let end = ContinuousClock.now + duration
    let c = connection
    await withTaskGroup(of: Void.self) { group in
      group.addTask {
        await Self.every(.seconds(1), until: end) {
          await c.call(.steady, "ListPodSandbox", Runtime_V1_ListPodSandboxRequest(), as: Runtime_V1_ListPodSandboxResponse.self)
          await c.call(.steady, "ListContainers", Runtime_V1_ListContainersRequest(), as: Runtime_V1_ListContainersResponse.self)
        }
      }
      group.addTask {
        await Self.every(.seconds(2), until: end) {
          await c.call(
            .steady, "ListPodSandbox", label: "ListPodSandbox (state READY)",
            Runtime_V1_ListPodSandboxRequest.with { $0.filter.state.state = .sandboxReady }, as: Runtime_V1_ListPodSandboxResponse.self)
          await c.call(
            .steady, "ListContainers", label: "ListContainers (state RUNNING)",
            Runtime_V1_ListContainersRequest.with { $0.filter.state.state = .containerRunning }, as: Runtime_V1_ListContainersResponse.self)
        }
      }
      group.addTask {
        await Self.every(.seconds(5), until: end) {
          await c.call(.steady, "Status", Runtime_V1_StatusRequest(), as: Runtime_V1_StatusResponse.self)
        }
      }
      group.addTask {
        await Self.every(.seconds(10), until: end) {
          await c.call(.steady, "Version", Runtime_V1_VersionRequest(), as: Runtime_V1_VersionResponse.self)
        }
      }
      group.addTask {
        await Self.every(.seconds(10), until: end) {
          await c.call(
            .steady, "ListPodSandboxStats", Runtime_V1_ListPodSandboxStatsRequest(), as: Runtime_V1_ListPodSandboxStatsResponse.self)
          await c.call(.steady, "ListContainerStats", Runtime_V1_ListContainerStatsRequest(), as: Runtime_V1_ListContainerStatsResponse.self)
          await c.call(.steady, "ImageFsInfo", service: "ImageService", Runtime_V1_ImageFsInfoRequest(), as: Runtime_V1_ImageFsInfoResponse.self)
        }
      }
      group.addTask {
        await Self.every(.seconds(30), until: end) {
          await c.call(.steady, "ListImages", service: "ImageService", Runtime_V1_ListImagesRequest(), as: Runtime_V1_ListImagesResponse.self)
        }
      }
      group.addTask {
        await Self.every(.seconds(300), until: end) {
          await c.call(.steady, "ListImages", service: "ImageService", Runtime_V1_ListImagesRequest(), as: Runtime_V1_ListImagesResponse.self)
          await c.call(.steady, "ListPodSandbox", Runtime_V1_ListPodSandboxRequest(), as: Runtime_V1_ListPodSandboxResponse.self)
          await c.call(.steady, "ListContainers", Runtime_V1_ListContainersRequest(), as: Runtime_V1_ListContainersResponse.self)
          await c.call(.steady, "ImageFsInfo", service: "ImageService", Runtime_V1_ImageFsInfoRequest(), as: Runtime_V1_ImageFsInfoResponse.self)
        }
      }
      group.addTask { await Self.syncPods(c, pods, until: end) }
    }
  }

  /// Each started pod's status once per ``syncPeriod``, pod after pod at even intervals.
  private static func syncPods(_ c: KubeletConnection, _ pods: [NodePod], until end: ContinuousClock.Instant) async {
    let started = pods.filter { $0.sandboxID != nil }
    guard !started.isEmpty else { return }
    let gap = syncPeriod / started.count
    var next = ContinuousClock.now
    var index = 0
    while next < end {
      try? await Task.sleep(until: next, clock: .continuous)
      guard ContinuousClock.now < end else { return }
      let pod = started[index % started.count]
      if let sandboxID = pod.sandboxID {
        await podStatus(c, .steady, uid: pod.uid, sandboxID: sandboxID, containerIDs: pod.containerID.map { [$0] } ?? [])
      }
      index += 1
      next += gap
    }
  }

  /// kubelet's `GetPodStatus` for one pod.
  static func podStatus(_ c: KubeletConnection, _ phase: NodePhase, uid: String, sandboxID: String, containerIDs: [String]) async {
    let selector = ["io.kubernetes.pod.uid": uid]
    await c.call(
      phase, "ListPodSandbox", label: "ListPodSandbox (pod uid)", Runtime_V1_ListPodSandboxRequest.with { $0.filter.labelSelector = selector },
      as: Runtime_V1_ListPodSandboxResponse.self)
    await c.call(
      phase, "PodSandboxStatus", Runtime_V1_PodSandboxStatusRequest.with { $0.podSandboxID = sandboxID }, as: Runtime_V1_PodSandboxStatusResponse.self
    )
    await c.call(
      phase, "ListContainers", label: "ListContainers (pod uid)", Runtime_V1_ListContainersRequest.with { $0.filter.labelSelector = selector },
      as: Runtime_V1_ListContainersResponse.self)
    for id in containerIDs {
      await c.call(
        phase, "ContainerStatus", Runtime_V1_ContainerStatusRequest.with { $0.containerID = id }, as: Runtime_V1_ContainerStatusResponse.self)
    }
  }

  /// Runs `body` now and then again `period` after each run ends, until `end`.
  private static func every(_ period: Duration, until end: ContinuousClock.Instant, _ body: @Sendable () async -> Void) async {
    while ContinuousClock.now < end {
      await body()
      let next = ContinuousClock.now + period
      guard next < end else { return }
      try? await Task.sleep(until: next, clock: .continuous)
    }
  }
}
