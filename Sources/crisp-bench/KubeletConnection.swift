import CRIAPI
import NIOPosix
import SwiftProtobuf

/// One connection to a CRI endpoint, shared by every caller of a node scenario run as kubelet shares its
/// one gRPC connection between its goroutines. Each call is timed alone (from the request's first frame to
/// the answer's last, with ``LeanGRPCClient``, which adds almost nothing) and recorded in the ``CallLog``;
/// answers are decoded after the timing.
struct KubeletConnection: Sendable {
  let client: LeanGRPCClient
  let log: CallLog

  static func connect(_ endpoint: CRIEndpoint, log: CallLog) async throws -> KubeletConnection {
    let client = try await LeanGRPCClient.connect(unixSocket: endpoint.socketPath, group: MultiThreadedEventLoopGroup.singleton)
    return KubeletConnection(client: client, log: log)
  }

  func close() async { await client.close() }

  /// Calls `/runtime.v1.<service>/<method>`, logged as `label` (the method unless given, e.g. a filtered
  /// list); nil (with the failure logged) when the call fails or its answer does not decode.
  @discardableResult
  func call<Response: SwiftProtobuf.Message>(
    _ phase: NodePhase, _ method: String, label: String? = nil, service: String = "RuntimeService",
    _ request: some SwiftProtobuf.Message & Sendable, as response: Response.Type
  ) async -> Response? {
    let name = label ?? method
    let start = ContinuousClock.now
    do {
      let bytes = try await client.call("/runtime.v1.\(service)/\(method)", request)
      await log.record(phase, name, seconds: seconds(since: start))
      return try Response(serializedBytes: bytes)
    } catch {
      await log.fail(phase, name, error)
      return nil
    }
  }

  private func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
  }
}
