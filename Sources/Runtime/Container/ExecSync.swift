public import CrispCore
import Foundation
import Glibc
import Store
import OCI

extension RuntimeManager {
  static let longestExecTimeout = Int64(Int32.max / 1000)

  /// Runs a command in a running container, capturing its output (each stream capped at 16 MiB). A command
  /// still running after `timeout` seconds (0: none) is killed and the call fails with DEADLINE_EXCEEDED.
  public func execSync(_ rawID: String, command: [String], timeout: Int64) async throws(CrispError) -> ProcessResult {
    guard !command.isEmpty else { throw CrispError.invalidArgument("cmd is empty") }
    guard let id = try resolveID(rawID, table: "containers"), let record = try refreshed(id) else {
      throw CrispError.notFound("container \"\(rawID)\" not found")
    }
    guard record.state == .running else {
      throw CrispError.failedPrecondition("container \(id) is \(record.state.rawValue), not running")
    }
    guard let sandbox = try store.sandbox(id: record.sandboxID), let runtime = runtimes[sandbox.runtimeHandler] else {
      throw CrispError.failedPrecondition("container \(id): its sandbox is gone")
    }
    // The caller's int64 of seconds, bounded (about 24 days) before any clock arithmetic is done with it.
    let deadline: Duration? = timeout > 0 ? .seconds(min(timeout, Self.longestExecTimeout)) : nil
    let result: ProcessResult
    if case .success(let profile) = execProfile(id), record.pid > 0 {
      do {
        result = try await ContainerExec.run(profile, pid: Int32(truncatingIfNeeded: record.pid), id: id, command: command, timeout: deadline)
      } catch  where error.code == .internal {
        // The command did not start (joining the container failed): the OCI runtime may still manage it.
        logger.warning("crisp's own exec failed; using the OCI runtime's", metadata: ["container": "\(id)", "error": "\(error.message)"])
        result = try await runtimeExec(id, runtime: runtime, command: command, timeout: deadline)
      }
    } else {
      result = try await runtimeExec(id, runtime: runtime, command: command, timeout: deadline)
    }
    if result.timedOut {
      throw CrispError(.deadlineExceeded, "command \(command) in container \(id) timed out after \(timeout)s")
    }
    if result.status != 0 && result.stdout.isEmpty && result.stderr.isEmpty {
      throw CrispError(.internal, "exec in container \(id): exit status \(result.status)")
    }
    return result
  }

  /// `runc exec`, for containers whose spec asks for what crisp's own exec does not apply (an AppArmor
  /// profile, say). A command the runtime cannot start comes back as the command's own failure output.
  private func runtimeExec(_ id: String, runtime: any ContainerRuntime, command: [String], timeout: Duration?) async throws(CrispError)
    -> ProcessResult
  {
    let pidFile = ExecPIDFile(path: bundle(id) + "/exec-\(Self.newID().prefix(12)).pid")
    defer { pidFile.remove() }
    let arguments = runtime.globalArguments + ["exec", "--pid-file", pidFile.path, id] + command
    return try await Subprocess.run(arguments, timeout: timeout, onTimeout: { pidFile.killCommand() })
  }

  /// The container's exec profile, read from its spec once.
  func execProfile(_ id: String) -> Result<ExecProfile, ExecProfile.Unsupported> {
    if let known = execProfiles.withLock({ $0[id] }) { return known }
    let profile: Result<ExecProfile, ExecProfile.Unsupported>
    do {
      guard let data = try FilePath.read(bundle(id) + "/config.json") else { throw ExecProfile.Unsupported(reason: "no config.json") }
      let spec = try JSONDecoder().decode(OCISpec.self, from: Data(data))
      let rootfs = bundle(id) + "/rootfs"
      profile = .success(try ExecProfile.make(spec) { ImageAccounts.home(uid: $0, rootfs: rootfs) })
    } catch let error as ExecProfile.Unsupported {
      profile = .failure(error)
    } catch {
      profile = .failure(ExecProfile.Unsupported(reason: "spec unreadable: \(error)"))
    }
    if case .failure(let problem) = profile {
      logger.info("ExecSync in this container goes through the OCI runtime", metadata: ["container": "\(id)", "reason": "\(problem.reason)"])
    }
    execProfiles.withLock { $0[id] = profile }
    return profile
  }
}
