import CrispCore
import Synchronization
import Store

/// The records of one table as last read for a list, with the store's ``Store/changeCount`` at the time:
/// reused while nothing has been written since (kubelet lists every second; records change only on
/// lifecycle calls). The status calls kubelet makes for each pod look their record up here too, by id,
/// while the list is current; a stale list is never reloaded for one lookup (the caller reads the one row).
final class ListedRecords<Record: Sendable>: Sendable {
  private struct Listed: Sendable {
    var changeCount: UInt64
    var records: [Record]
    var positions: [String: Int]
  }
  private let last = Mutex<Listed?>(nil)
  private let id: @Sendable (Record) -> String

  init(id: @escaping @Sendable (Record) -> String) {
    self.id = id
  }

  /// The records, from memory while `store` is unchanged, else from `load`.
  func records(_ store: Store, load: () throws(CrispError) -> [Record]) throws(CrispError) -> [Record] {
    // The count is read before the records: a write landing in between only makes the next list read again.
    let changeCount = store.changeCount
    if let listed = last.withLock({ $0 }), listed.changeCount == changeCount { return listed.records }
    let records = try load()
    var positions: [String: Int] = [:]
    positions.reserveCapacity(records.count)
    for (position, record) in records.enumerated() { positions[id(record)] = position }
    last.withLock { $0 = Listed(changeCount: changeCount, records: records, positions: positions) }
    return records
  }

  /// The record with `recordID` when the kept list is as current as the store (`.some(nil)`: no such
  /// record); nil when the list is stale or was never read, and the store must be asked.
  func record(_ store: Store, id recordID: String) -> Record?? {
    let changeCount = store.changeCount
    return last.withLock { listed -> Record?? in
      guard let listed, listed.changeCount == changeCount else { return nil }
      guard let position = listed.positions[recordID], listed.records.indices.contains(position) else { return .some(nil) }
      return .some(listed.records[position])
    }
  }
}
