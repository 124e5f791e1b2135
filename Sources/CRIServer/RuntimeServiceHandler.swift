import CRIAPI
import Config
import CrispCore
import GRPCCore
import Runtime
import Streaming
import Synchronization

/// The CRI RuntimeService: one method per RPC, each validating its request, doing the work through the
/// lower modules, and throwing ``CrispError`` for the interceptor to map.
struct RuntimeServiceHandler: Sendable {
  let node: NodeContext
  let runtime: RuntimeManager
  let streaming: StreamServer
  /// The last unfiltered ListContainers answer, as sent (see ``serializedContainerList(request:)``).
  let containerListAnswer = SavedAnswer()
  /// The last unfiltered ListPodSandbox answer, as sent (see ``serializedSandboxList(request:)``).
  let sandboxListAnswer = SavedAnswer()

  /// The CRI API version this runtime speaks; kubelet sends its own as `version` and expects this back.
  static let criVersion = "0.1.0"

  func version(request: Runtime_V1_VersionRequest) async throws -> Runtime_V1_VersionResponse {
    var response = Runtime_V1_VersionResponse()
    response.version = Self.criVersion
    response.runtimeName = "crisp"
    response.runtimeVersion = CrispVersion.current
    response.runtimeApiVersion = "v1"
    return response
  }

  func status(request: Runtime_V1_StatusRequest) async throws -> Runtime_V1_StatusResponse {
    RuntimeStatusReporter(node: node, runtime: runtime).status(verbose: request.verbose)
  }

  func runtimeConfig(request: Runtime_V1_RuntimeConfigRequest) async throws -> Runtime_V1_RuntimeConfigResponse {
    var response = Runtime_V1_RuntimeConfigResponse()
    response.linux.cgroupDriver = node.cgroupDriver == .systemd ? .systemd : .cgroupfs
    return response
  }
}

/// An answer's bytes, kept with the store change count they were made at.
final class SavedAnswer: Sendable {
  private let saved = Mutex<(generation: UInt64, bytes: [UInt8])?>(nil)

  func bytes(at generation: UInt64) -> [UInt8]? {
    saved.withLock { $0?.generation == generation ? $0?.bytes : nil }
  }

  func save(_ bytes: [UInt8], at generation: UInt64) {
    saved.withLock { $0 = (generation, bytes) }
  }
}
