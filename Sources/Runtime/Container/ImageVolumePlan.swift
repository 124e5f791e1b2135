/// One image volume of a container being created, as checked by the plan: the image it mounts (resolved
/// to its id and layer chain) and the directory of it the container sees.
struct ImageVolumePlan: Sendable, Equatable {
  /// The index in the request's `mounts` (and in the plan's resolved mounts).
  var index: Int
  var containerPath: String
  /// The image as kubelet named it.
  var image: String
  var imageID: String
  var chainID: String
  /// Relative to the image's root, normalised (no `.`, no empty components); empty for the whole image.
  var subPath: String

  var record: ContainerExtra.ImageVolumeRecord {
    .init(containerPath: containerPath, image: image, imageID: imageID, chainID: chainID)
  }
}
