import CrispCore
import Synchronization
import Store

/// The records of one table as last read for a list, with the store's ``Store/changeCount`` at the time:
/// reused while nothing has been written since (kubelet lists every second; records change only on
/// lifecycle calls). The status calls kubelet makes for each pod look their record up here too, by id
/// (``record(_:id:read:)``).
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
    // A load that took longer than a newer one does not replace it (change counts only grow).
    last.withLock { last in
      if (last?.changeCount ?? 0) <= changeCount { last = Listed(changeCount: changeCount, records: records, positions: positions) }
    }
    return records
  }

  /// The record with `recordID` as of now: from the kept list while it is as current as the store, else
  /// from a row read earlier by this method while nothing has been written since, else from `read` (one
  /// row; a stale list is never reloaded for one lookup). critest and tools ask one pod's status over and
  /// over without listing, and each call read its row through the store.
  func record(
    _ store: Store, id recordID: String, read: (String) throws(CrispError) -> Record?
  ) throws(CrispError) -> Record? {
    // As in ``records(_:load:)``, the count is read before the row.
    let changeCount = store.changeCount
    let known = last.withLock { listed -> Record?? in
      guard let listed, listed.changeCount == changeCount else { return nil }
      guard let position = listed.positions[recordID], listed.records.indices.contains(position) else { return .some(nil) }
      return .some(listed.records[position])
    }
    if let known { return known }
    if let row = rows.withLock({ $0.changeCount == changeCount ? $0.records[recordID] : nil }) { return row }
    let record = try read(recordID)
    rows.withLock { rows in
      if rows.changeCount != changeCount || rows.records.count >= Self.rowLimit { rows = ReadRows(changeCount: changeCount) }
      rows.records[recordID] = .some(record)
    }
    return record
  }

  /// Rows read one at a time, kept with the change count they were read at (all dropped at the next write).
  private struct ReadRows: Sendable {
    var changeCount: UInt64
    var records: [String: Record?] = [:]
  }
  private let rows = Mutex(ReadRows(changeCount: .max))
  /// Ids kept between two writes; a client asking for more ids than this just reads rows again.
  static var rowLimit: Int { 256 }
}
