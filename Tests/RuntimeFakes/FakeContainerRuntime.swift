public import CrispCore
public import Runtime

/// An OCI runtime that keeps its containers in memory (shared with ``FakeShims``) and logs each call.
public struct FakeContainerRuntime: ContainerRuntime {
  public let handler: String
  public let binary = "/fake/runc"
  public let root = "/fake/runc-root"
  public let systemdCgroup = false
  let log: HostCallLog
  public let containers: FakeContainers
  /// Containers the runtime has lost its state of (a wiped `--root`) while their processes live on.
  public let forgotten = Held()

  init(handler: String, log: HostCallLog, containers: FakeContainers) {
    self.handler = handler
    self.log = log
    self.containers = containers
  }

  public func probeCreate(_ id: String, bundle: String) async throws(CrispError) { try log.record("runtime.probeCreate", id) }

  public func start(_ id: String, pid: Int64) async throws(CrispError) {
    try log.record("runtime.start", id)
    guard containers.start(id) else { throw CrispError(.internal, "\(handler) start \(id): container is not created") }
  }

  public func kill(_ id: String, signal: String, all: Bool) async throws(CrispError) {
    try log.record("runtime.kill", id)
    guard containers.status(id) != nil else { throw CrispError(.internal, "\(handler) kill \(id): container does not exist") }
    containers.stop(id, signal: signal == "KILL" || signal == "SIGKILL" ? 9 : 15)
  }

  public func delete(_ id: String, force: Bool) async throws(CrispError) {
    try log.record("runtime.delete", id)
    if containers.status(id) == .running && !force { throw CrispError(.internal, "\(handler) delete \(id): container is running") }
    containers.stop(id, signal: 9)
    containers.delete(id)
  }

  public func delete(stopped id: String) async throws(CrispError) {
    try log.record("runtime.deleteStopped", id)
    containers.delete(id)
  }

  public func state(_ id: String) async throws(CrispError) -> (status: String, pid: Int64)? {
    try log.record("runtime.state", id)
    if forgotten.contains(id) { return nil }
    return containers.status(id).map { ($0.rawValue, 0) }
  }

  public func update(_ id: String, resourcesFile: String) async throws(CrispError) { try log.record("runtime.update", id) }
  public func pause(_ id: String) async throws(CrispError) { try log.record("runtime.pause", id) }
  public func resume(_ id: String) async throws(CrispError) { try log.record("runtime.resume", id) }
  public func supportsRecursiveReadOnly() async -> Bool { false }
}
