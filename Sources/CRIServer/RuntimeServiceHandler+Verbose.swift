import CrispCore
import Runtime

/// The verbose info of PodSandboxStatus and ContainerStatus: what `crictl inspectp` / `inspect` show beyond
/// the CRI status. Only what is already at hand is included: kubelet's tooling and critest ask for verbose
/// status routinely, so it must cost about what a plain status costs. Checking the pod's network with the
/// CNI plugins (seconds of plugin runs on a busy node) is its own admin call (`crispctl inspectp` makes it).
extension RuntimeServiceHandler {
  /// The largest runtime spec embedded (crisp writes a few kilobytes; a spec with thousands of CDI edits
  /// stays under this).
  static let runtimeSpecLimit = 4 << 20

  /// The OCI runtime spec crisp wrote for the container or pause, as bytes; empty when unreadable.
  static func runtimeSpec(_ path: String) -> [UInt8] {
    (try? FilePath.readRegularFile(path, limit: runtimeSpecLimit)) ?? []
  }

  static func verboseInfo(_ sandbox: RuntimeManager.SandboxView, runtime: RuntimeManager) async -> VerboseInfo {
    let specPath = runtime.paths.spec(sandbox.record.id)
    var info = VerboseInfo()
    info["pid"] = .integer(sandbox.record.pid)
    info["netns"] = .string(sandbox.record.netnsPath)
    info["runtimeHandler"] = .string(sandbox.record.runtimeHandler)
    info["runtimeSpec"] = .document(runtimeSpec(specPath))
    guard !sandbox.hostNetwork, sandbox.record.state == .ready,
      let interfaces = await runtime.podInterfaces(sandbox)
    else { return info }
    info["interfaces"] = .array(
      interfaces.map { interface in
        var entry = VerboseInfo()
        entry["name"] = .string(interface.name)
        entry["rxBytes"] = .integer(Int64(clamping: interface.rxBytes))
        entry["rxErrors"] = .integer(Int64(clamping: interface.rxErrors))
        entry["txBytes"] = .integer(Int64(clamping: interface.txBytes))
        entry["txErrors"] = .integer(Int64(clamping: interface.txErrors))
        return entry
      })
    return info
  }
}
