import CRIAPI
import GRPCCore

/// The CRI ImageService. Images (pull through mirrors, unpack into snapshots, list, status, remove) are not
/// built yet: every call answers UNIMPLEMENTED naming itself (README, "What works today").
struct ImageServiceHandler: Runtime_V1_ImageService.SimpleServiceProtocol {
  let node: NodeContext

  func listImages(request: Runtime_V1_ListImagesRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ListImagesResponse {
    throw notImplemented("ListImages", "the image service")
  }

  func streamImages(request: Runtime_V1_StreamImagesRequest, response: GRPCCore.RPCWriter<Runtime_V1_StreamImagesResponse>, context: GRPCCore.ServerContext) async throws {
    throw notImplemented("StreamImages", "the image service")
  }

  func imageStatus(request: Runtime_V1_ImageStatusRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ImageStatusResponse {
    throw notImplemented("ImageStatus", "the image service")
  }

  func pullImage(request: Runtime_V1_PullImageRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_PullImageResponse {
    throw notImplemented("PullImage", "the image service")
  }

  func removeImage(request: Runtime_V1_RemoveImageRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_RemoveImageResponse {
    throw notImplemented("RemoveImage", "the image service")
  }

  func imageFsInfo(request: Runtime_V1_ImageFsInfoRequest, context: GRPCCore.ServerContext) async throws -> Runtime_V1_ImageFsInfoResponse {
    throw notImplemented("ImageFsInfo", "the image service")
  }

}
