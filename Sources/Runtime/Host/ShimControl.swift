public import CrispCore

/// What Runtime asks of a container's shim: launch it (it runs the runtime's `create`), talk to it over its
/// control socket, and wait for the exit it records. A protocol so that lifecycle and recovery logic can be
/// tested against a fake shim; ``ShimLauncher`` is the real one.
public protocol ShimControl: Sendable {
  /// Starts the shim for `request`; returns the container's pid once the runtime created it.
  func start(_ request: ShimLauncher.Request) async throws(CrispError) -> Int64
  /// Sends one control command (`reopen`, `resize W H`, …) and returns the shim's one-line answer.
  func request(directory: String, _ command: String, timeout: Duration) async throws(CrispError) -> String
  /// Signals the container's init through its shim; false when the shim could not (ask the runtime then).
  func signal(directory: String, _ signal: Int32) async -> Bool
  /// Waits up to `timeout` for the container's exit; nil when it is still running.
  func waitForExit(directory: String, timeout: Duration) async -> ContainerExit?
  /// Whether a shim serves the container's control socket.
  func isRunning(directory: String) -> Bool
  /// Kills a shim (and the runtime's `create`) left half way by a daemon that died.
  func killCreating(directory: String, id: String)
}

extension ShimControl {
  public func request(directory: String, _ command: String) async throws(CrispError) -> String {
    try await request(directory: directory, command, timeout: .seconds(5))
  }
}
