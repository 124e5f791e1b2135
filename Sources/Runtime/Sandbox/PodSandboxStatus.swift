public import CrispCore
public import Store

extension RuntimeManager {
  /// A sandbox record with its config decoded (the record keeps it as kubelet sent it), for status and
  /// list answers.
  public struct SandboxView: Sendable {
    public var record: SandboxRecord
    public var config: PodSandboxSpec
    public var hostNetwork: Bool
  }

  /// The sandbox with its state brought up to date (a pause container that died makes it NOTREADY).
  public func sandbox(_ rawID: String) throws(CrispError) -> SandboxView? {
    guard let id = try resolveID(rawID, table: "sandboxes") else { return nil }
    guard let record = try listedSandboxes.record(store, id: id, read: { id throws(CrispError) in try store.sandbox(id: id) }) else {
      return nil
    }
    return try view(try refreshed(record))
  }

  /// `record` as NOTREADY (also in the store) when it was ready and its pause container has exited since.
  func refreshed(_ record: SandboxRecord) throws(CrispError) -> SandboxRecord {
    guard record.state == .ready, exitRecorded(record.id), ContainerExit.read(directory: bundle(record.id)) != nil else { return record }
    var record = record
    record.state = .notready
    try store.markSandboxNotReady(record.id)
    return record
  }

  func view(_ record: SandboxRecord) throws(CrispError) -> SandboxView {
    if let cached = decodedSandboxes.withLock({ $0[record.id] }) {
      return SandboxView(record: record, config: cached.config, hostNetwork: cached.hostNetwork)
    }
    let config: PodSandboxSpec
    do {
      config = try codec.decodeSandboxSpec(record.config)
    } catch {
      throw CrispError.failed("sandbox \(record.id): stored config unreadable", error)
    }
    let hostNetwork = extra(of: record)?.hostNetwork ?? false
    // A sandbox still being created has no extra yet.
    if record.state != .creating { decodedSandboxes.withLock { $0[record.id] = (config, hostNetwork) } }
    return SandboxView(record: record, config: config, hostNetwork: hostNetwork)
  }
}
