import Store

/// Runtime details of a sandbox kept in its record's `extra`.
struct SandboxExtra: RecordExtra {
  var cgroupsPath: String
  var shm: String?
  var hostNetwork: Bool
  var imageID: String
  /// The pod's own user namespace (pinned) and mapping; nil for the node's.
  var userNamespace: SpecBuilder.PodUserNamespace?
}

extension RuntimeManager {
  func extra(of record: SandboxRecord) -> SandboxExtra? { SandboxExtra.decoded(from: record.extra) }
}
