import CDI
import CRIAPI
import Config
import CrispCore
import Foundation
import PodNetwork
import Runtime

/// Builds the CRI `Status` answer: whether the runtime and the pod network are ready, and why not.
///
/// kubelet marks the node NotReady while either condition is false and shows the reason and message in
/// `kubectl describe node`, so both are written for the operator who reads them there.
struct RuntimeStatusReporter: Sendable {
  let node: NodeContext
  let runtime: RuntimeManager

  func status(verbose: Bool) -> Runtime_V1_StatusResponse {
    let config = node.config
    let cni = runtime.networks.watcher.current
    let handlers = availableHandlers()

    var runtimeReady = Runtime_V1_RuntimeCondition()
    runtimeReady.type = "RuntimeReady"
    if handlers[config.runtime.defaultHandler] != nil {
      runtimeReady.status = true
    } else {
      runtimeReady.status = false
      runtimeReady.reason = "RuntimeHandlerUnavailable"
      let reason = runtime.unavailableHandlers[config.runtime.defaultHandler] ?? "not configured"
      runtimeReady.message = "default runtime handler \"\(config.runtime.defaultHandler)\": \(reason)"
    }

    var networkReady = Runtime_V1_RuntimeCondition()
    networkReady.type = "NetworkReady"
    networkReady.status = cni.isReady
    if !cni.isReady {
      networkReady.reason = "NetworkPluginNotReady"
      networkReady.message = cni.notReadyMessage
    }

    var response = Runtime_V1_StatusResponse()
    response.status.conditions = [runtimeReady, networkReady]
    // "" stands for the default handler; every usable handler is listed by name as well.
    response.runtimeHandlers = ([""] + handlers.keys.sorted()).map { name in
      var handler = Runtime_V1_RuntimeHandler()
      handler.name = name
      handler.features.recursiveReadOnlyMounts = runtime.supportsRecursiveReadOnly(name.isEmpty ? config.runtime.defaultHandler : name)
      handler.features.userNamespaces = runtime.supportsUserNamespaces(name.isEmpty ? config.runtime.defaultHandler : name)
      return handler
    }
    response.features.supplementalGroupsPolicy = true
    if verbose {
      response.info = verboseInfo(cni: cni, handlers: handlers)
    }
    return response
  }

  /// Configured handlers that can run pods here (binary present, not known to fail on this host).
  func availableHandlers() -> [String: CrispConfig.Runtime.Handler] {
    let usable = runtime.usableHandlers
    return node.config.runtime.handlers.filter { usable[$0.key] != nil }
  }

  /// Whether pods get AppArmor confinement here, and whether crisp's default profile is in the kernel now
  /// (it is loaded on the first pod that needs it).
  private func appArmorState() -> [String: String] {
    guard runtime.appArmor.isEnabled else { return ["enabled": "false"] }
    let loaded = runtime.appArmor.host.loadedProfiles().contains(AppArmorDefaultProfile.name)
    return ["enabled": "true", "defaultProfile": AppArmorDefaultProfile.name, "defaultProfileLoaded": loaded ? "true" : "false"]
  }

  private func verboseInfo(cni: CNIConfigLoad, handlers: [String: CrispConfig.Runtime.Handler]) -> [String: String] {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    func json(_ value: some Encodable) -> String {
      (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
    let versions: [String: String] = [
      "crisp": CrispVersion.current,
      "runtimeApiVersion": "v1",
    ]
    var loadStatus = "OK"
    if !cni.isReady { loadStatus = cni.notReadyMessage }
    return [
      "config": json(node.config.redacted),
      "versions": json(versions),
      "sandboxImage": json(node.config.sandboxImage),
      "cgroupDriver": json(node.cgroupDriver.rawValue),
      "runtimeHandlers": json(handlers.keys.sorted()),
      "unavailableRuntimeHandlers": json(runtime.unavailableHandlers),
      "userNamespaces": json(
        Dictionary(
          uniqueKeysWithValues: handlers.keys.sorted().map { name in
            (name, runtime.userNamespaceProblem(name).map { "unavailable: \($0)" } ?? "available")
          })),
      "cniconfig": json(cni),
      "cdi": json(CDIStatusReport(runtime.cdi)),
      "lastCNILoadStatus": json(loadStatus),
      "appArmor": json(appArmorState()),
    ]
  }
}
