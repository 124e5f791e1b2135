public import CrispCore
public import Runtime
import Synchronization

/// Shims that "create" the container in the fake runtime's table and answer on its behalf. `gone` marks
/// bundles whose shim died (recovery tests).
public final class FakeShims: ShimControl {
  let log: HostCallLog
  let containers: FakeContainers
  /// Bundle directories whose shim is not running although the container is known.
  public let gone = Held()

  init(log: HostCallLog, containers: FakeContainers) {
    self.log = log
    self.containers = containers
  }

  public func start(_ request: ShimLauncher.Request) async throws(CrispError) -> Int64 {
    try log.record("shims.start", request.id)
    return containers.create(request.id, bundle: request.directory)
  }

  public func request(directory: String, _ command: String, timeout: Duration) async throws(CrispError) -> String {
    try log.record("shims.request", command)
    guard isLive(directory) else { throw CrispError(.unavailable, "shim \(directory)/shim.sock is not running") }
    return "ok"
  }

  public func signal(directory: String, _ signal: Int32) async -> Bool {
    if log.shouldFail("shims.signal", directory) { return false }
    guard isLive(directory), let id = containers.id(forBundle: directory) else { return false }
    containers.stop(id, signal: signal)
    return true
  }

  public func waitForExit(directory: String, timeout: Duration) async -> ContainerExit? {
    if log.shouldFail("shims.waitForExit", directory) { return nil }
    return ContainerExit.read(directory: directory)
  }

  public func isRunning(directory: String) -> Bool {
    _ = log.shouldFail("shims.isRunning", directory)
    return isLive(directory)
  }

  public func killCreating(directory: String, id: String) {
    _ = log.shouldFail("shims.killCreating", id)
    containers.stop(id, signal: 9)
  }

  private func isLive(_ directory: String) -> Bool {
    guard !gone.contains(directory), let id = containers.id(forBundle: directory) else { return false }
    return containers.status(id) != .stopped || !FilePath.exists(directory + "/exit")
  }
}
