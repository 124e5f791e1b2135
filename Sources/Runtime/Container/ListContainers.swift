public import CrispCore
import Store

extension RuntimeManager {
  /// Records the exits that happened since the last look and returns the store's change count: while it
  /// stays the same, so does every container's list entry. Only containers that may have exited are looked
  /// at (``ExitSignals``), which makes this cheap enough to run before every list.
  public func containersGeneration() throws(CrispError) -> UInt64 {
    try exitWatch.signals.look { check throws(CrispError) -> UInt64 in
      let records = try listedContainers.records(store) { () throws(CrispError) in try store.allContainers() }
      for record in records where (record.state == .running || record.state == .created) && check.mustCheck(record.id) {
        let fresh = try refreshed(record)
        // An exit file that is there but did not read (a transient error) is looked at again next time.
        if fresh.state != .exited, exitRecorded(record.id) { exitWatch.signals.flag(record.id) }
      }
      return store.changeCount
    }
  }

  /// Every container but those being created, with exits recorded: only containers that may have exited
  /// since the last look are looked at (``containersGeneration()``), not one exit file per container.
  public func containers() throws(CrispError) -> [ContainerView] {
    _ = try containersGeneration()
    let records = try listedContainers.records(store) { () throws(CrispError) in try store.allContainers() }
    var result: [ContainerView] = []
    result.reserveCapacity(records.count)
    for record in records where record.state != .creating {
      result.append(try view(record))
    }
    return result
  }
}
