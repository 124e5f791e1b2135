public import CrispCore
import Store

extension RuntimeManager {
  /// Every sandbox but those still being created, each brought up to date as ``sandbox(_:)`` does.
  public func sandboxes() throws(CrispError) -> [SandboxView] {
    let records = try listedSandboxes.records(store) { () throws(CrispError) in try store.allSandboxes() }
    return try records.filter { $0.state != .creating }.map { record throws(CrispError) in try view(try refreshed(record)) }
  }
}
