import CRIAPI
import CrispCore
import Foundation
import GRPCCore
import Images
import Registry
import Runtime
import Store

/// crisp's admin API on the CRI socket: image archives in and out for air-gapped nodes, pulls with
/// progress, and the pod network check.
struct AdminServiceHandler: Sendable {
  let node: NodeContext
  let images: ImageManager
  let runtime: RuntimeManager

  /// Archives are spooled to disk under `<root>/tmp`: they can be far larger than memory.
  private func temporaryPath(_ kind: String) throws(CrispError) -> String {
    let directory = images.spoolDirectory
    do {
      try FilePath.makeDirectories(directory, mode: 0o700)
    } catch {
      throw CrispError.failed("archive spool directory \(directory)", error)
    }
    return "\(directory)/\(kind)-\(UInt64.random(in: 0..<UInt64.max))"
  }

  func importImages(request: RPCAsyncSequence<Crisp_Admin_V1_ImportImagesRequest, any Error>) async throws -> Crisp_Admin_V1_ImportImagesResponse {
    let path = try temporaryPath("import")
    defer { try? FilePath.remove(path) }
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw CrispError.from(SystemError.last("create", path)) }
    var received: UInt64 = 0
    do {
      defer { close(fd) }
      for try await chunk in request {
        guard chunk.data.withUnsafeBytes({ writeFully(fd, $0) }) else { throw CrispError.from(SystemError.last("write", path)) }
        received += UInt64(chunk.data.count)
      }
    }
    let records = try await images.importArchive(at: path)
    var response = Crisp_Admin_V1_ImportImagesResponse()
    response.archiveSize = received
    response.images = records.map { record in
      var image = Crisp_Admin_V1_ImportedImage()
      image.id = record.id
      image.repoTags = record.repoTags
      image.repoDigests = record.repoDigests
      return image
    }
    return response
  }

  func exportImages(request: Crisp_Admin_V1_ExportImagesRequest, response: RPCWriter<Crisp_Admin_V1_ExportImagesResponse>) async throws {
    guard !request.images.isEmpty else { throw CrispError.invalidArgument("images: name at least one image to export") }
    let path = try temporaryPath("export")
    defer { try? FilePath.remove(path) }
    try images.exportArchive(request.images, to: path)
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CrispError.from(SystemError.last("open", path)) }
    defer { close(fd) }
    var info = stat()
    fstat(fd, &info)
    var first = true
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 { throw CrispError.from(SystemError.last("read", path)) }
      if n == 0 && !first { break }
      var message = Crisp_Admin_V1_ExportImagesResponse()
      message.data = Data(buffer[0..<n])
      if first { message.totalSize = UInt64(info.st_size) }
      first = false
      try await response.write(message)
      if n == 0 { break }
    }
  }
  /// PullImage with progress: the pull runs in a task of its own while its progress (at most every 100 ms,
  /// and the final state) is written to the stream; the last message names the image.
  func pullImage(request: Crisp_Admin_V1_PullImageRequest, response: RPCWriter<Crisp_Admin_V1_PullImageProgress>) async throws {
    guard !request.image.isEmpty else { throw CrispError.invalidArgument("image is empty") }
    let credentials =
      request.username.isEmpty && request.password.isEmpty
      ? nil : RegistryCredentials(username: request.username, password: request.password)
    let (updates, sink) = AsyncStream.makeStream(of: PullProgress.self, bufferingPolicy: .bufferingNewest(1))
    let images = images, name = request.image
    let pull = Task { () async throws(CrispError) -> ImageRecord in
      defer { sink.finish() }
      return try await images.pull(name, credentials: credentials) { sink.yield($0) }
    }
    var last = ContinuousClock.now - .seconds(1)
    var latest = PullProgress()
    for await update in updates {
      latest = update
      guard ContinuousClock.now - last >= .milliseconds(100) else { continue }
      last = .now
      try await response.write(Self.message(update))
    }
    let record = try await pull.value
    var final = Self.message(latest)
    final.imageID = record.id
    final.imageRef = name
    try await response.write(final)
  }

  static func message(_ progress: PullProgress) -> Crisp_Admin_V1_PullImageProgress {
    .with {
      $0.layersTotal = UInt32(clamping: progress.layersTotal)
      $0.layersDone = UInt32(clamping: progress.layersDone)
      $0.bytesTotal = UInt64(clamping: progress.bytesTotal)
      $0.bytesDone = UInt64(clamping: progress.bytesDone)
      $0.bytesFetched = UInt64(clamping: progress.bytesFetched)
    }
  }

  /// CNI CHECK of a pod's networks, asked for by an operator: a pod on the host network or not ready has
  /// nothing to check and says so; a plugin's complaint is the answer, not an error of the call.
  func checkPodNetwork(request: Crisp_Admin_V1_CheckPodNetworkRequest) async throws -> Crisp_Admin_V1_CheckPodNetworkResponse {
    guard !request.podSandboxID.isEmpty else { throw CrispError.invalidArgument("pod_sandbox_id is required") }
    guard let sandbox = try runtime.sandbox(request.podSandboxID) else {
      throw CrispError.notFound("pod sandbox \"\(request.podSandboxID)\" not found")
    }
    var response = Crisp_Admin_V1_CheckPodNetworkResponse()
    if sandbox.hostNetwork || sandbox.record.state != .ready {
      response.skipped = true
      response.message = sandbox.hostNetwork ? "the pod uses the host's network" : "the pod sandbox is not ready"
      return response
    }
    do {
      if try await runtime.checkNetwork(sandbox.record.id) {
        response.ok = true
      } else {
        response.skipped = true
        response.message = "the pod sandbox is not ready"
      }
    } catch {
      response.message = CrispError.from(error).message
    }
    return response
  }
}
