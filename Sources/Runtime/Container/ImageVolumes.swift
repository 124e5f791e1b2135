public import CrispCore
import Foundation
import Images
import Store

/// Image volumes (KEP-4639): a CRI mount that names an image instead of a host path sees that image's
/// filesystem read-only. Each image chain has one shared view under `<state>/image-volumes/`; its users
/// are the container records that list it (``ContainerExtra/imageVolumes``), counted under the chain's
/// lock, so no counter can drift from what the records say, also across a daemon restart.
extension RuntimeManager {
  /// The image volumes of a CreateContainer request, checked: the image is pulled, the sub path is a
  /// relative path without `..`, the mount is private and the pod has no user namespace (the view is not
  /// idmapped). Nothing is made here.
  func planImageVolumes(_ mounts: [MountRequest], userNamespace: SpecBuilder.PodUserNamespace?) throws(CrispError) -> [ImageVolumePlan] {
    var result: [ImageVolumePlan] = []
    for (index, mount) in mounts.enumerated() {
      guard let spec = mount.image, mount.isImageVolume else { continue }
      let field = "mounts[\(index)]"
      guard mount.hostPath.isEmpty else {
        throw CrispError.invalidArgument("\(field): host_path and image are both set (an image volume has no host path)")
      }
      guard userNamespace == nil, mount.uidMappings.isEmpty, mount.gidMappings.isEmpty else {
        throw CrispError.invalidArgument("\(field).image: image volumes are not supported in pods with a user namespace")
      }
      guard mount.propagation == .private else {
        throw CrispError.invalidArgument("\(field).propagation: an image volume is read-only and cannot propagate mounts (use private)")
      }
      let subPath = try ImageSubPath.normalized(mount.imageSubPath, field: "\(field).image_sub_path")
      let image: ImageRecord?
      do throws(CrispError) {
        image = try images.resolve(spec.image)
      } catch {
        throw CrispError(error.code, "\(field).image.image \"\(spec.image)\": \(error.message)", cause: error)
      }
      guard let image else {
        throw CrispError.notFound("\(field).image.image \"\(spec.image)\": image not found (pull it first)")
      }
      let hex = image.chainID.hasPrefix("sha256:") ? String(image.chainID.dropFirst(7)) : ""
      guard ContentStore.isSHA256Hex(hex) else {
        throw CrispError.failedPrecondition("\(field).image.image \"\(spec.image)\": image \(image.id) has no layers to mount")
      }
      result.append(
        .init(index: index, containerPath: mount.containerPath, image: spec.image, imageID: image.id, chainID: image.chainID, subPath: subPath))
    }
    return result
  }

  /// Mounts the views the plan's image volumes need (each chain once) and points each volume's mount at
  /// its directory in the view. The container's record must already list the volumes.
  func mountImageVolumes(_ plan: ContainerCreatePlan, into mounts: inout [SpecBuilder.ResolvedMount]) async throws(CrispError) {
    do {
      try FilePath.makeDirectories(paths.imageVolumes, mode: 0o700)
    } catch {
      throw CrispError.failed("image volumes \(paths.imageVolumes)", error)
    }
    let provider = host.rootfs
    for chainID in Set(plan.imageVolumes.map(\.chainID)).sorted() {
      let target = paths.imageVolume(chainID)
      try await locks.with(Self.imageViewLock(chainID)) { () throws(CrispError) -> Void in
        try provider.mountImageView(chainID: chainID, at: target)
      }
    }
    for volume in plan.imageVolumes where mounts.indices.contains(volume.index) {
      mounts[volume.index].hostPath = try ImageSubPath.resolve(
        volume.subPath, in: paths.imageVolume(volume.chainID), image: volume.image, field: "mounts[\(volume.index)].image_sub_path")
    }
  }

  /// Gives up container `id`'s image volumes: each view that no other container record lists is unmounted.
  /// Idempotent; the caller forgets the record afterwards.
  func releaseImageViews(of id: String, _ volumes: [ContainerExtra.ImageVolumeRecord]) async throws(CrispError) {
    let provider = host.rootfs
    for chainID in Set(volumes.map(\.chainID)).sorted() {
      try await locks.with(Self.imageViewLock(chainID)) { () throws(CrispError) -> Void in
        guard try imageViewUsers(chainID, except: id).isEmpty else { return }
        try provider.removeImageView(chainID: chainID, at: paths.imageVolume(chainID))
        logger.info("image volume view removed", metadata: ["chain": "\(chainID)"])
      }
    }
  }

  /// Start-up: views that no container record lists (a daemon killed between a removal and the unmount, or
  /// a reboot that left only the snapshot) are removed; those of live containers stay mounted.
  func removeUnusedImageViews() async {
    var chains = Set(((try? host.rootfs.imageViewChains()) ?? []))
    for name in (try? FileManager.default.contentsOfDirectory(atPath: paths.imageVolumes)) ?? [] where ContentStore.isSHA256Hex(name) {
      chains.insert("sha256:" + name)
    }
    for chainID in chains.sorted() {
      do throws(CrispError) {
        try await locks.with(Self.imageViewLock(chainID)) { () throws(CrispError) -> Void in
          guard try imageViewUsers(chainID, except: nil).isEmpty else { return }
          try host.rootfs.removeImageView(chainID: chainID, at: paths.imageVolume(chainID))
          logger.info("removed an image volume view no container holds", metadata: ["chain": "\(chainID)"])
        }
      } catch {
        logger.error("removing an unused image volume view failed", metadata: ["chain": "\(chainID)", "error": "\(error)"])
      }
    }
  }

  /// Containers (other than `except`) whose records list a volume of `chainID`.
  private func imageViewUsers(_ chainID: String, except: String?) throws(CrispError) -> [String] {
    try store.allContainers().compactMap { record in
      guard record.id != except, containerExtra(record)?.imageVolumes?.contains(where: { $0.chainID == chainID }) == true else { return nil }
      return record.id
    }
  }

  static func imageViewLock(_ chainID: String) -> String { "image-view " + chainID }

  /// RemoveImage: refused (FAILED_PRECONDITION, naming the container) while a container record uses the
  /// image as its own or as an image volume; kubelet removes only images no container uses, exited ones
  /// included, so this never stands in its way.
  public func removeImage(_ text: String) async throws(CrispError) {
    try await images.remove(text) { image throws(CrispError) in try self.checkImageUnused(image, named: text) }
  }

  private func checkImageUnused(_ image: ImageRecord, named text: String) throws(CrispError) {
    for record in try store.allContainers() {
      let who = "container \(record.id) (\(record.name), \(record.state.rawValue))"
      if record.imageID == image.id {
        throw CrispError.failedPrecondition("image \"\(text)\" is in use by \(who): remove the container first")
      }
      if let volume = containerExtra(record)?.imageVolumes?.first(where: { $0.imageID == image.id }) {
        throw CrispError.failedPrecondition(
          "image \"\(text)\" is in use by \(who) as the image volume at \(volume.containerPath): remove the container first")
      }
    }
  }
}
