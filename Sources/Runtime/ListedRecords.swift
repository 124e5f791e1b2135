import CrispCore
import Synchronization
import Store

/// The records of one table as last read for a list, with the store's ``Store/changeCount`` at the time:
/// reused while nothing has been written since (kubelet lists every second; records change only on
/// lifecycle calls).
final class ListedRecords<Record: Sendable>: Sendable {
  private let last = Mutex<(changeCount: UInt64, records: [Record])?>(nil)

  /// The records, from memory while `store` is unchanged, else from `load`.
  func records(_ store: Store, load: () throws(CrispError) -> [Record]) throws(CrispError) -> [Record] {
    // The count is read before the records: a write landing in between only makes the next list read again.
    let changeCount = store.changeCount
    if let listed = last.withLock({ $0 }), listed.changeCount == changeCount { return listed.records }
    let records = try load()
    last.withLock { $0 = (changeCount, records) }
    return records
  }
}
