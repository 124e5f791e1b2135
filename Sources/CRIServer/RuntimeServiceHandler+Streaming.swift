import CRIAPI
import CrispCore
import GRPCCore
import Runtime
import Streaming

/// Exec, Attach and PortForward: the request is validated here (so kubelet gets a precise status at once)
/// and answered with a single-use URL on the streaming server, where the session itself runs.
extension RuntimeServiceHandler {
  func exec(request: Runtime_V1_ExecRequest) async throws -> Runtime_V1_ExecResponse {
    guard !request.cmd.isEmpty else { throw CrispError.invalidArgument("cmd is empty") }
    let options = try Self.streamOptions(stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, tty: request.tty)
    guard !request.containerID.isEmpty else { throw CrispError.invalidArgument("container_id is required") }
    let target = try runtime.streamTarget(request.containerID)
    var response = Runtime_V1_ExecResponse()
    response.url = streaming.url(for: .exec(containerID: target.containerID, command: request.cmd, options: options))
    return response
  }

  func attach(request: Runtime_V1_AttachRequest) async throws -> Runtime_V1_AttachResponse {
    guard !request.containerID.isEmpty else { throw CrispError.invalidArgument("container_id is required") }
    let target = try runtime.streamTarget(request.containerID)
    // The terminal is the container's (kubelet takes tty from the container spec, stderr from the request):
    // a tty container has one output stream, so stderr is dropped rather than refused.
    let options = try Self.streamOptions(
      stdin: request.stdin, stdout: request.stdout, stderr: request.stderr && !target.tty, tty: target.tty)
    if request.stdin && !target.stdin {
      throw CrispError.invalidArgument("stdin: container \(target.containerID) was not created with stdin, so there is nothing to attach it to")
    }
    var response = Runtime_V1_AttachResponse()
    response.url = streaming.url(for: .attach(containerID: target.containerID, options: options))
    return response
  }

  func portForward(request: Runtime_V1_PortForwardRequest) async throws -> Runtime_V1_PortForwardResponse {
    for port in request.port where port <= 0 || port > 65535 {
      throw CrispError.invalidArgument("port \(port) is not a TCP port (1-65535)")
    }
    guard !request.podSandboxID.isEmpty else { throw CrispError.invalidArgument("pod_sandbox_id is required") }
    let target = try runtime.portForwardTarget(request.podSandboxID)
    var response = Runtime_V1_PortForwardResponse()
    response.url = streaming.url(for: .portForward(sandboxID: target.sandboxID, ports: request.port))
    return response
  }

  /// The stream selection every command session needs: at least one stream, and no stderr with a tty (a
  /// terminal has one output).
  static func streamOptions(stdin: Bool, stdout: Bool, stderr: Bool, tty: Bool) throws(CrispError) -> StreamOptions {
    guard stdin || stdout || stderr else { throw CrispError.invalidArgument("one of stdin, stdout and stderr must be set") }
    if tty && stderr { throw CrispError.invalidArgument("tty and stderr cannot both be set: a terminal has a single output stream") }
    return StreamOptions(stdin: stdin, stdout: stdout, stderr: stderr, tty: tty)
  }
}
