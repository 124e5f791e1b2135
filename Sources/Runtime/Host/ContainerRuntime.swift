public import CrispCore

/// What Runtime asks of an OCI runtime (runc, crun) for one handler. A protocol so that the lifecycle's
/// ordering and rollback can be driven without root by a fake that fails at any call; ``OCIRuntime`` is
/// the real one.
public protocol ContainerRuntime: Sendable {
  /// The CRI runtime handler this runtime serves.
  var handler: String { get }
  /// The runtime binary, its `--root` and cgroup driver: the shim runs `create` with the same ones.
  var binary: String { get }
  var root: String { get }
  var systemdCgroup: Bool { get }

  /// `create` of a throwaway container at start-up (errors from the runtime's JSON log).
  func probeCreate(_ id: String, bundle: String) async throws(CrispError)
  /// Starts a created container whose init is `pid`.
  func start(_ id: String, pid: Int64) async throws(CrispError)
  /// Sends `signal` to the container's init (`all`: to every process in it).
  func kill(_ id: String, signal: String, all: Bool) async throws(CrispError)
  /// Deletes the container, killing it first when forced; an unknown container is fine.
  func delete(_ id: String, force: Bool) async throws(CrispError)
  /// Deletes a container whose init has exited and whose shim recorded the exit.
  func delete(stopped id: String) async throws(CrispError)
  /// The runtime's status and pid of a container; nil when it does not know it.
  func state(_ id: String) async throws(CrispError) -> (status: String, pid: Int64)?
  /// Applies the cgroup limits in `resourcesFile` to a live container.
  func update(_ id: String, resourcesFile: String) async throws(CrispError)
  func pause(_ id: String) async throws(CrispError)
  func resume(_ id: String) async throws(CrispError)
  /// Whether the runtime makes recursive read-only bind mounts here.
  func supportsRecursiveReadOnly() async -> Bool
}

extension ContainerRuntime {
  /// The runtime's command line before the subcommand: one place for `--root` and the cgroup driver, used
  /// for runtime calls, shims and `exec` alike.
  public var globalArguments: [String] {
    var arguments = [binary, "--root", root]
    if systemdCgroup { arguments.append("--systemd-cgroup") }
    return arguments
  }

  public func kill(_ id: String, signal: String) async throws(CrispError) {
    try await kill(id, signal: signal, all: false)
  }

  public func delete(_ id: String) async throws(CrispError) {
    try await delete(id, force: true)
  }
}
