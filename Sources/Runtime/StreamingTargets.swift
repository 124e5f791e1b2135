public import CrispCore
import Store

extension RuntimeManager {
  /// A running container to exec in or attach to; NOT_FOUND or FAILED_PRECONDITION naming `field`.
  public func streamTarget(_ rawID: String, field: String = "container_id") throws(CrispError) -> ExecTarget {
    guard let view = try container(rawID) else { throw CrispError.notFound("\(field) \"\(rawID)\": container not found") }
    let record = view.record
    guard record.state == .running else {
      throw CrispError.failedPrecondition("\(field) \"\(rawID)\": container \(record.id) is \(record.state.rawValue), not running")
    }
    guard let sandbox = try store.sandbox(id: record.sandboxID), let runtime = runtimes[sandbox.runtimeHandler] else {
      throw CrispError.failedPrecondition("\(field) \"\(rawID)\": the container's pod sandbox is gone")
    }
    return ExecTarget(
      containerID: record.id, directory: bundle(record.id), runtime: runtime, tty: view.config.tty, stdin: view.config.stdin,
      stdinOnce: view.config.stdinOnce)
  }

  /// A ready pod sandbox to forward ports into.
  public func portForwardTarget(_ rawID: String) throws(CrispError) -> PortForwardTarget {
    guard let view = try sandbox(rawID) else { throw CrispError.notFound("pod_sandbox_id \"\(rawID)\": pod sandbox not found") }
    guard view.record.state == .ready else {
      throw CrispError.failedPrecondition("pod_sandbox_id \"\(rawID)\": pod sandbox \(view.record.id) is not ready")
    }
    return PortForwardTarget(sandboxID: view.record.id, netns: view.hostNetwork || view.record.netnsPath.isEmpty ? nil : view.record.netnsPath)
  }
}
