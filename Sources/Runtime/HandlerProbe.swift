public import CrispCore
import Foundation
public import OCI

/// Whether a runtime handler can run a container on this host: a throwaway container is created (and
/// deleted) from a root filesystem holding crisp's pause program. The daemon runs it for every handler at
/// start-up (``RuntimeManager/probeHandlers()``) and `crisp check` runs the same probe, so an operator sees
/// the runtime's own message before kubelet does.
public enum HandlerProbe {
  /// The probe container's spec: `/pause` as nobody, read-only root, its own namespaces, `cgroupsPath`.
  public static func spec(rootfs: String, cgroupsPath: String) -> OCISpec {
    var spec = OCISpec()
    var process = OCISpec.Process()
    process.args = ["/pause"]
    process.user.uid = 65534
    process.user.gid = 65534
    process.noNewPrivileges = true
    spec.process = process
    spec.root = .init(path: rootfs, readonly: true)
    spec.mounts = [.init(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"])]
    var linux = OCISpec.Linux()
    linux.namespaces = [.init("mount"), .init("pid"), .init("ipc"), .init("uts"), .init("network")]
    linux.cgroupsPath = cgroupsPath
    spec.linux = linux
    return spec
  }

  /// Writes `spec` as the bundle `directory`'s config.json (made private), then creates and deletes
  /// container `id` with `runtime`. Throws the runtime's own message when the create fails; the caller
  /// removes the directory.
  public static func run(_ runtime: any ContainerRuntime, id: String, spec: OCISpec, bundle directory: String) async throws(CrispError) {
    do {
      try FilePath.makePrivateDirectory(directory)
    } catch {
      throw CrispError.failed("create the probe bundle \(directory)", error)
    }
    try writeSpec(spec, to: directory)
    try await runtime.delete(id)
    try await runtime.probeCreate(id, bundle: directory)
    try await runtime.delete(id)
  }

  /// Writes an OCI spec as `directory/config.json` (temp file and rename).
  static func writeSpec(_ spec: OCISpec, to directory: String) throws(CrispError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    do {
      try AtomicFile.write(Array(try encoder.encode(spec)), to: directory + "/config.json", mode: 0o600)
    } catch let error as SystemError {
      throw CrispError.failed("write \(directory)/config.json", error)
    } catch {
      throw CrispError.failed("\(directory): encode the OCI spec", error)
    }
  }
}
