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
  /// Every container's ListContainers entry at the last generation listed, and the unfiltered answer.
  let containerList = SavedList<Runtime_V1_Container>()
  /// Every sandbox's ListPodSandbox entry at the last generation listed, and the unfiltered answer.
  let sandboxList = SavedList<Runtime_V1_PodSandbox>()

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

/// The last unfiltered list (ListPodSandbox or ListContainers) as built, and its encoding once sent,
/// kept with the generation they were made at (the store's change count once exits were looked at, see
/// ``RuntimeManager/sandboxesGeneration()``): while it stays the same, every entry is the same, so
/// kubelet's relist resends the bytes and its filtered lookups (by pod uid, by state) filter the entries,
/// instead of building an entry for every pod on every call. (Filtered lists only read what the relist
/// kept: during a burst of writes they build entries for the matching pods alone.)
final class SavedList<Item: Sendable>: Sendable {
  private struct Saved {
    var generation: UInt64
    var items: [Item]
    var bytes: [UInt8]?
  }
  private let saved = Mutex<Saved?>(nil)

  /// The entries made at `generation`; nil when none are kept for it.
  func kept(at generation: UInt64) -> [Item]? {
    saved.withLock { $0?.generation == generation ? $0?.items : nil }
  }

  /// The entries made at `generation`, else made now by `build` and kept.
  func items(at generation: UInt64, build: () throws -> [Item]) rethrows -> [Item] {
    if let items = kept(at: generation) { return items }
    let items = try build()
    // A build that took longer than a newer one does not replace it (generations only grow).
    saved.withLock { saved in
      if (saved?.generation ?? 0) <= generation { saved = Saved(generation: generation, items: items, bytes: nil) }
    }
    return items
  }

  /// The encoded unfiltered answer made at `generation`, else encoded now by `encode` from the entries
  /// and kept with them.
  func bytes(at generation: UInt64, items: [Item], encode: ([Item]) throws -> [UInt8]) rethrows -> [UInt8] {
    if let bytes = saved.withLock({ $0?.generation == generation ? $0?.bytes : nil }) { return bytes }
    let bytes = try encode(items)
    saved.withLock { saved in
      if saved?.generation == generation { saved?.bytes = bytes }
    }
    return bytes
  }

  /// The unfiltered answer's bytes (as ``bytes(at:items:encode:)``) when every entry kept at `generation`
  /// passes `matches`: a filtered list's answer is then the same entries in the same order. nil when no
  /// entries are kept for `generation` or one does not match.
  func bytes(at generation: UInt64, ifEvery matches: (Item) -> Bool, encode: ([Item]) throws -> [UInt8]) rethrows -> [UInt8]? {
    guard let kept = kept(at: generation), kept.allSatisfy(matches) else { return nil }
    return try bytes(at: generation, items: kept, encode: encode)
  }
}
