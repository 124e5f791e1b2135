import Store

/// Runtime details of a container kept in its record's `extra`.
struct ContainerExtra: RecordExtra {
  var cgroupsPath: String
  var reservedName: String
  /// The signal StopContainer sends, as `SIG<NAME>`; nil (containers made before crisp recorded a
  /// resolved one) means SIGTERM.
  var stopSignal: String?
  /// The user the container's process was started as (the OCI spec's process.user), for ContainerStatus;
  /// nil for containers made before crisp recorded it.
  var user: SpecBuilder.ResolvedUser?
  var mounts: [MountRecord]
  /// The serialized CRI LinuxContainerResources of the last successful UpdateContainerResources.
  var updatedResources: [UInt8]?
  /// The image volumes the container holds: written before their views are mounted, so that a view's
  /// users are always counted from the records (also after a restart), and RemoveImage sees them.
  var imageVolumes: [ImageVolumeRecord]?

  /// One image volume: the image (by id, for RemoveImage) and the chain whose shared view it mounts.
  struct ImageVolumeRecord: Codable, Sendable, Equatable {
    var containerPath: String
    var image: String
    var imageID: String
    var chainID: String
  }

  struct MountRecord: Codable, Sendable {
    var containerPath: String
    var hostPath: String
    var readonly: Bool
    var propagation: Int
    var recursiveReadOnly: Bool?
  }
}

extension RuntimeManager {
  func containerExtra(_ record: ContainerRecord) -> ContainerExtra? { ContainerExtra.decoded(from: record.extra) }
}
