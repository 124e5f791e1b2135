import Store

/// Runtime details of a container kept in its record's `extra`.
struct ContainerExtra: RecordExtra {
  var cgroupsPath: String
  var reservedName: String
  var stopSignal: String?
  var mounts: [MountRecord]
  /// The serialized CRI LinuxContainerResources of the last successful UpdateContainerResources.
  var updatedResources: [UInt8]?

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
