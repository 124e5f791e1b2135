public import CrispCore
import Store

extension RuntimeManager {
  /// Asks the container's shim to reopen its log file (kubelet rotated it).
  public func reopenContainerLog(_ rawID: String) async throws(CrispError) {
    guard let id = try resolveID(rawID, table: "containers"), let record = try refreshed(id) else {
      throw CrispError.notFound("container \"\(rawID)\" not found")
    }
    guard record.state == .running else {
      throw CrispError.failedPrecondition("container \(id) is \(record.state.rawValue), not running: its log cannot be reopened")
    }
    let answer = try await host.shims.request(directory: bundle(id), "reopen")
    guard answer == "ok" else { throw CrispError.internalError("container \(id): reopen log: \(answer)") }
  }
}
