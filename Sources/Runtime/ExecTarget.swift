import CrispCore

/// What the streaming server needs to reach a container: checked when kubelet asks for a URL and
/// again when the client connects (the container may have exited in between).
public struct ExecTarget: Sendable {
  public let containerID: String
  /// The container's bundle and shim state directory (shim.sock, pid files, console sockets).
  public let directory: String
  public let runtime: any ContainerRuntime
  /// Whether the container was created with a terminal (attach then carries one stream of output).
  public let tty: Bool
  /// Whether the container was created with stdin open (attach may then forward input).
  public let stdin: Bool
  /// Whether its stdin closes when the first attached client that used it leaves.
  public let stdinOnce: Bool
}
