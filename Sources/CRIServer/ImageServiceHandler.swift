import CRIAPI
import CrispCore
import Foundation
import GRPCCore
import Images
import Registry
import Runtime
import Store

/// The CRI ImageService: pull through the configured mirrors, list, status by any reference form, remove,
/// and filesystem usage.
struct ImageServiceHandler: Sendable {
  let node: NodeContext
  let images: ImageManager
  /// RemoveImage asks the runtime, which refuses an image a container uses.
  let runtime: RuntimeManager
  /// Each image's USER as CRI reports it, parsed once per image id (the id is the config's digest).
  let users = ImageUserCache()

  func pullImage(request: Runtime_V1_PullImageRequest) async throws -> Runtime_V1_PullImageResponse {
    let name = request.image.image
    guard !name.isEmpty else { throw CrispError.invalidArgument("image.image is empty") }
    var credentials: RegistryCredentials?
    if request.hasAuth {
      let auth = request.auth
      credentials = RegistryCredentials(
        username: auth.username, password: auth.password, auth: auth.auth,
        identityToken: auth.identityToken, registryToken: auth.registryToken)
    }
    let record = try await images.pull(name, credentials: credentials)
    var response = Runtime_V1_PullImageResponse()
    response.imageRef = record.id
    return response
  }

  func listImages(request: Runtime_V1_ListImagesRequest) async throws -> Runtime_V1_ListImagesResponse {
    var response = Runtime_V1_ListImagesResponse()
    response.images = try filtered(request.hasFilter ? request.filter : nil).map(criImage)
    return response
  }

  func streamImages(request: Runtime_V1_StreamImagesRequest, response: RPCWriter<Runtime_V1_StreamImagesResponse>) async throws {
    let all = try filtered(request.hasFilter ? request.filter : nil).map(criImage)
    // Chunks well under the 16 MiB message limit, however many images there are.
    for start in stride(from: 0, to: max(all.count, 1), by: 500) {
      var chunk = Runtime_V1_StreamImagesResponse()
      chunk.images = Array(all[start..<min(start + 500, all.count)])
      try await response.write(chunk)
    }
  }

  private func filtered(_ filter: Runtime_V1_ImageFilter?) throws(CrispError) -> [ImageRecord] {
    if let filter, !filter.image.image.isEmpty {
      return try images.resolve(filter.image.image).map { [$0] } ?? []
    }
    return try images.list()
  }

  func imageStatus(request: Runtime_V1_ImageStatusRequest) async throws -> Runtime_V1_ImageStatusResponse {
    guard !request.image.image.isEmpty else { throw CrispError.invalidArgument("image.image is empty") }
    var response = Runtime_V1_ImageStatusResponse()
    // An unknown image is not an error: no image and no error, as kubelet expects.
    guard let record = try images.resolve(request.image.image) else { return response }
    response.image = criImage(record)
    if request.verbose {
      var info = VerboseInfo()
      info["imageSpec"] = .document(record.config)
      info["manifestDigest"] = .string(record.manifestDigest)
      info["chainID"] = .string(record.chainID)
      info["snapshotter"] = .string(images.snapshotter.mode.rawValue)
      response.info["info"] = info.text
    }
    return response
  }

  func removeImage(request: Runtime_V1_RemoveImageRequest) async throws -> Runtime_V1_RemoveImageResponse {
    guard !request.image.image.isEmpty else { throw CrispError.invalidArgument("image.image is empty") }
    try await runtime.removeImage(request.image.image)
    return Runtime_V1_RemoveImageResponse()
  }

  func imageFsInfo(request: Runtime_V1_ImageFsInfoRequest) async throws -> Runtime_V1_ImageFsInfoResponse {
    let usage = images.filesystemUsage()
    func entry(_ bytes: Int64, _ inodes: Int64, at timestamp: Int64) -> Runtime_V1_FilesystemUsage {
      var value = Runtime_V1_FilesystemUsage()
      value.timestamp = timestamp
      value.fsID.mountpoint = usage.mountpoint
      value.usedBytes.value = UInt64(max(bytes, 0))
      value.inodesUsed.value = UInt64(max(inodes, 0))
      return value
    }
    var response = Runtime_V1_ImageFsInfoResponse()
    response.imageFilesystems = [entry(usage.imageBytes, usage.imageInodes, at: usage.timestamp)]
    // Writable layers as last measured by the background walker, stamped with its oldest measurement.
    response.containerFilesystems = [entry(usage.containerBytes, usage.containerInodes, at: usage.containerTimestamp)]
    return response
  }

  /// The CRI view of an image record.
  func criImage(_ record: ImageRecord) -> Runtime_V1_Image {
    var image = Runtime_V1_Image()
    image.id = record.id
    image.repoTags = record.repoTags
    image.repoDigests = record.repoDigests
    image.size = UInt64(max(record.size, 0))
    image.pinned = record.pinned
    image.spec.image = record.id
    let user = users.user(of: record)
    if let uid = user.uid { image.uid.value = uid }
    image.username = user.username
    return image
  }
}
