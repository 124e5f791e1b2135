public import CrispCore
public import Store

extension RuntimeManager {
  /// The record with the exit (if the container has exited since) folded in.
  func refreshed(_ id: String) throws(CrispError) -> ContainerRecord? {
    guard let record = try listedContainers.record(store, id: id, read: { id throws(CrispError) in try store.container(id: id) }) else {
      return nil
    }
    return try refreshed(record)
  }

  /// `record` with its exit folded in; only a running or created container's exit file is looked at.
  func refreshed(_ record: ContainerRecord) throws(CrispError) -> ContainerRecord {
    var record = record
    let id = record.id
    if record.state == .running || record.state == .created, exitRecorded(id), let exit = ContainerExit.read(directory: bundle(id)) {
      record.state = .exited
      record.exitCode = exit.code
      record.finishedAt = exit.finishedAt
      record.reason = exit.oomKilled ? "OOMKilled" : (exit.code == 0 ? "Completed" : "Error")
      try store.recordExit(id, exitCode: record.exitCode, finishedAt: record.finishedAt, reason: record.reason)
    }
    return record
  }

  public struct ContainerView: Sendable {
    public var record: ContainerRecord
    /// The container's config, decoded from the record (which keeps it as kubelet sent it).
    public var config: ContainerSpec
    public var mounts: [SpecBuilder.ResolvedMount]
    /// The uid, gid and supplementary groups the process was started with; nil for containers made by a
    /// crisp that did not record them.
    public var user: SpecBuilder.ResolvedUser?
    /// `SIG<NAME>`: the signal StopContainer sends first.
    public var stopSignal: String
  }

  public func container(_ rawID: String) throws(CrispError) -> ContainerView? {
    guard let id = try resolveID(rawID, table: "containers"), let record = try refreshed(id), record.state != .creating else { return nil }
    return try view(record)
  }

  /// Records the exits that happened since the last look and returns the store's change count: while it

  func view(_ record: ContainerRecord) throws(CrispError) -> ContainerView {
    // A container's config never changes after creation: decode it once (lists of many containers are hot).
    if let cached = decodedContainers.withLock({ $0[record.id] }) {
      return ContainerView(record: record, config: cached.config, mounts: cached.mounts, user: cached.user, stopSignal: cached.stopSignal)
    }
    let config: ContainerSpec
    do {
      config = try codec.decodeContainerSpec(record.config)
    } catch {
      throw CrispError.failed("container \(record.id): stored config unreadable", error)
    }
    let extra = containerExtra(record)
    let stopSignal = extra?.stopSignal.flatMap(SignalNames.canonicalName) ?? "SIGTERM"
    let mounts = (extra?.mounts ?? []).map {
      SpecBuilder.ResolvedMount(
        hostPath: $0.hostPath, containerPath: $0.containerPath, readonly: $0.readonly,
        propagation: MountRequest.Propagation(recorded: $0.propagation), recursiveReadOnly: $0.recursiveReadOnly ?? false)
    }
    if record.state != .creating { decodedContainers.withLock { $0[record.id] = (config, mounts, extra?.user, stopSignal) } }
    return ContainerView(record: record, config: config, mounts: mounts, user: extra?.user, stopSignal: stopSignal)
  }
}
