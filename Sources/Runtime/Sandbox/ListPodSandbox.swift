public import CrispCore
import Store

extension RuntimeManager {
  /// The store's change count once every pause that may have exited has been looked at and its exit
  /// recorded: while it stays the same, the list of sandboxes (states included) is the same, so an answer
  /// built at this count may be sent again.
  public func sandboxesGeneration() throws(CrispError) -> UInt64 {
    try sandboxExits.look { check throws(CrispError) -> UInt64 in
      let records = try listedSandboxes.records(store) { () throws(CrispError) in try store.allSandboxes() }
      for record in records where record.state == .ready && check.mustCheck(record.id) {
        let fresh = try refreshed(record)
        // An exit file there but not yet readable is looked at again next time.
        if fresh.state == .ready, exitRecorded(record.id) { sandboxExits.flag(record.id) }
      }
      return store.changeCount
    }
  }

  /// Every sandbox but those still being created, each brought up to date as ``sandbox(_:)`` does.
  /// Only the sandboxes whose pause may have exited since the last look are looked at (``sandboxExits``):
  /// kubelet lists every second, and one exit-file lookup per pod per list was most of a list's cost.
  public func sandboxes() throws(CrispError) -> [SandboxView] {
    _ = try sandboxesGeneration()
    // Exits found above were written to the store, so these records (re-read if so) are current.
    let records = try listedSandboxes.records(store) { () throws(CrispError) in try store.allSandboxes() }
    return try records.filter { $0.state != .creating }.map { record throws(CrispError) in try view(record) }
  }
}
