import Config
import CrispCore
import Glibc
import Runtime

/// Each configured runtime handler: its binary, its version, and whether it can create a container here —
/// the daemon's start-up probe (``HandlerProbe``) run on a throwaway root filesystem holding crisp's pause
/// program, with the runtime's state in a temporary directory.
struct RuntimeHandlerChecks {
  var config: CrispConfig
  /// crisp's pause program (installed next to crisp), copied into the probe container's root filesystem.
  var pauseBinary: String?

  func run() async -> [PreflightResult] {
    var results: [PreflightResult] = []
    if config.runtime.handlers[config.runtime.defaultHandler] == nil {
      results.append(
        .fail(
          "runtime.default_handler", "default_handler \"\(config.runtime.defaultHandler)\" is not among runtime.handlers",
          remedy: "add [runtime.handlers.\(config.runtime.defaultHandler)] or name a configured handler"))
    }
    for (name, handler) in config.runtime.handlers.sorted(by: { $0.key < $1.key }) {
      results.append(await check(name, handler))
    }
    return results
  }

  /// A failing default handler fails the node (every pod without a runtime class uses it); another handler
  /// failing is a warning: only pods that ask for it fail.
  func check(_ name: String, _ handler: CrispConfig.Runtime.Handler) async -> PreflightResult {
    let check = "runtime." + name
    let severity: PreflightResult.Status = name == config.runtime.defaultHandler ? .fail : .warn
    let role = name == config.runtime.defaultHandler ? "the default handler" : "pods with this runtime class fail"
    guard access(handler.binary, X_OK) == 0 else {
      return .init(
        check, severity, "\(handler.binary) is not an executable file (\(role))",
        remedy: "install the runtime there or set runtime.handlers.\(name).binary")
    }
    let version = await Self.version(handler.binary)
    guard let pauseBinary, FilePath.exists(pauseBinary) else {
      return .warn(
        check, "\(handler.binary) \(version); not probed: crisp-pause was not found next to crisp", remedy: "install crisp-pause beside crisp")
    }
    let driver: CrispConfig.CgroupDriver = config.cgroupDriver == .auto ? (Host.pid1IsSystemd ? .systemd : .cgroupfs) : config.cgroupDriver
    let problem: String?
    do {
      problem = try await ScratchDirectory.with(near: config.root) { scratch in
        await Self.probe(name, handler: handler, driver: driver, pauseBinary: pauseBinary, scratch: scratch)
      }
    } catch {
      problem = "cannot make a probe directory: \(error)"
    }
    guard let problem else { return .ok(check, "\(handler.binary) \(version): created a probe container") }
    return .init(
      check, severity, "\(handler.binary) \(version) cannot run a container here: \(problem) (\(role))",
      remedy: "fix what the runtime names, use another runtime version, or remove the handler")
  }

  /// Creates and deletes a probe container; the runtime's own message when that fails, else nil.
  static func probe(
    _ name: String, handler: CrispConfig.Runtime.Handler, driver: CrispConfig.CgroupDriver, pauseBinary: String, scratch: String
  ) async -> String? {
    let rootfs = scratch + "/rootfs"
    do {
      try FilePath.makeDirectories(rootfs, mode: 0o755)
      guard let pause = try FilePath.read(pauseBinary) else { return "\(pauseBinary) vanished" }
      try AtomicFile.write(pause, to: rootfs + "/pause", mode: 0o755)
    } catch {
      return "cannot lay out the probe root filesystem: \(error)"
    }
    let runtime = OCIRuntime(
      handler: name, binary: handler.binary, root: scratch + "/state", systemdCgroup: handler.systemdCgroup ?? (driver == .systemd))
    let cgroups = Cgroups(driver: driver)
    let parent = "/crisp-check-\(getpid())"
    let id = "crisp-check-\(getpid())-\(name)"
    defer { cgroups.removeEmpty(parent) }
    do {
      try await HandlerProbe.run(
        runtime, id: id, spec: HandlerProbe.spec(rootfs: rootfs, cgroupsPath: cgroups.path(parent: parent, id: name)), bundle: scratch + "/bundle")
      return nil
    } catch {
      try? await runtime.delete(id)
      return error.message
    }
  }

  /// The first line of `<binary> --version` (`runc version 1.1.5+ds1`), or why there is none.
  static func version(_ binary: String) async -> String {
    guard let result = try? await Subprocess.run([binary, "--version"], timeout: .seconds(10)), result.status == 0 else {
      return "(--version failed)"
    }
    return result.stdoutText.split(separator: "\n").first.map(String.init) ?? "(no version)"
  }
}
