import CRIAPI

/// Every RPC crisp serves on its socket, by request path: the CRI RuntimeService and ImageService, and
/// crisp's AdminService. A method missing here answers UNIMPLEMENTED naming its path.
///
/// `quick` calls answer from memory and stay on the socket's event loop thread: kubelet polls them every
/// second or so, and a hop to another thread would cost more than the answer. Every other call runs in the
/// concurrency pool, so the loop never waits on a mount, a pull or runc.
enum CRIMethods {
  static func table(runtime: RuntimeServiceHandler, images: ImageServiceHandler, admin: AdminServiceHandler) -> [String: GRPCMethod] {
    let methods: [GRPCMethod] = [
      .unary(Runtime_V1_RuntimeService.Method.Version.descriptor, quick: true) { try await runtime.version(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.RunPodSandbox.descriptor) { try await runtime.runPodSandbox(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.StopPodSandbox.descriptor) { try await runtime.stopPodSandbox(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.RemovePodSandbox.descriptor) { try await runtime.removePodSandbox(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.PodSandboxStatus.descriptor, quick: true) { try await runtime.podSandboxStatus(request: $0) },
      .unarySerialized(Runtime_V1_RuntimeService.Method.ListPodSandbox.descriptor, quick: true) {
        try await runtime.serializedSandboxList(request: $0)
      },
      .unary(Runtime_V1_RuntimeService.Method.CreateContainer.descriptor) { try await runtime.createContainer(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.StartContainer.descriptor) { try await runtime.startContainer(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.StopContainer.descriptor) { try await runtime.stopContainer(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.RemoveContainer.descriptor) { try await runtime.removeContainer(request: $0) },
      .unarySerialized(Runtime_V1_RuntimeService.Method.ListContainers.descriptor, quick: true) {
        try await runtime.serializedContainerList(request: $0)
      },
      .unary(Runtime_V1_RuntimeService.Method.ContainerStatus.descriptor, quick: true) { try await runtime.containerStatus(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.UpdateContainerResources.descriptor) { try await runtime.updateContainerResources(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.ReopenContainerLog.descriptor) { try await runtime.reopenContainerLog(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.ExecSync.descriptor) { try await runtime.execSync(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.Exec.descriptor) { try await runtime.exec(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.Attach.descriptor) { try await runtime.attach(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.PortForward.descriptor) { try await runtime.portForward(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.ContainerStats.descriptor) { try await runtime.containerStats(request: $0) },
      .unarySerialized(Runtime_V1_RuntimeService.Method.ListContainerStats.descriptor) {
        try await runtime.serializedContainerStatsList(request: $0)
      },
      .unary(Runtime_V1_RuntimeService.Method.PodSandboxStats.descriptor) { try await runtime.podSandboxStats(request: $0) },
      .unarySerialized(Runtime_V1_RuntimeService.Method.ListPodSandboxStats.descriptor) {
        try await runtime.serializedPodStatsList(request: $0)
      },
      .unary(Runtime_V1_RuntimeService.Method.UpdateRuntimeConfig.descriptor) { try await runtime.updateRuntimeConfig(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.Status.descriptor, quick: true) { try await runtime.status(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.CheckpointContainer.descriptor) { try await runtime.checkpointContainer(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.ListMetricDescriptors.descriptor, quick: true) { try await runtime.listMetricDescriptors(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.ListPodSandboxMetrics.descriptor) { try await runtime.listPodSandboxMetrics(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.RuntimeConfig.descriptor, quick: true) { try await runtime.runtimeConfig(request: $0) },
      .unary(Runtime_V1_RuntimeService.Method.UpdatePodSandboxResources.descriptor) { try await runtime.updatePodSandboxResources(request: $0) },
      .serverStreaming(Runtime_V1_RuntimeService.Method.StreamPodSandboxes.descriptor) {
        try await runtime.streamPodSandboxes(request: $0, response: $1)
      },
      .serverStreaming(Runtime_V1_RuntimeService.Method.StreamContainers.descriptor) {
        try await runtime.streamContainers(request: $0, response: $1)
      },
      .serverStreaming(Runtime_V1_RuntimeService.Method.StreamContainerStats.descriptor) {
        try await runtime.streamContainerStats(request: $0, response: $1)
      },
      .serverStreaming(Runtime_V1_RuntimeService.Method.StreamPodSandboxStats.descriptor) {
        try await runtime.streamPodSandboxStats(request: $0, response: $1)
      },
      .serverStreaming(Runtime_V1_RuntimeService.Method.GetContainerEvents.descriptor, endsAtShutdown: true) {
        try await runtime.getContainerEvents(request: $0, response: $1)
      },
      .serverStreaming(Runtime_V1_RuntimeService.Method.StreamPodSandboxMetrics.descriptor) {
        try await runtime.streamPodSandboxMetrics(request: $0, response: $1)
      },
      .unary(Runtime_V1_ImageService.Method.ListImages.descriptor, quick: true) { try await images.listImages(request: $0) },
      .unary(Runtime_V1_ImageService.Method.ImageStatus.descriptor, quick: true) { try await images.imageStatus(request: $0) },
      .unary(Runtime_V1_ImageService.Method.PullImage.descriptor) { try await images.pullImage(request: $0) },
      .unary(Runtime_V1_ImageService.Method.RemoveImage.descriptor) { try await images.removeImage(request: $0) },
      // Not quick: it lists content/ingest (up to 1024 lstat), which must not hold the loop.
      .unary(Runtime_V1_ImageService.Method.ImageFsInfo.descriptor) { try await images.imageFsInfo(request: $0) },
      .serverStreaming(Runtime_V1_ImageService.Method.StreamImages.descriptor) { try await images.streamImages(request: $0, response: $1) },
      .clientStreaming(Crisp_Admin_V1_AdminService.Method.ImportImages.descriptor) { try await admin.importImages(request: $0) },
      .serverStreaming(Crisp_Admin_V1_AdminService.Method.ExportImages.descriptor) { try await admin.exportImages(request: $0, response: $1) },
      .serverStreaming(Crisp_Admin_V1_AdminService.Method.PullImage.descriptor) { try await admin.pullImage(request: $0, response: $1) },
      .unary(Crisp_Admin_V1_AdminService.Method.CheckPodNetwork.descriptor) { try await admin.checkPodNetwork(request: $0) },
    ]
    return Dictionary(uniqueKeysWithValues: methods.map { ($0.path, $0) })
  }
}
