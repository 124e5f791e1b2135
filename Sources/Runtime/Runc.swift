public import CrispCore
import Foundation

/// Drives an OCI runtime binary (runc, crun) for one handler: `--root` per handler, JSON logs so that a
/// failure's own message reaches the CRI caller.
public struct OCIRuntime: Sendable {
  public let handler: String
  public let binary: String
  public let root: String
  public let systemdCgroup: Bool

  public init(handler: String, binary: String, root: String, systemdCgroup: Bool) {
    self.handler = handler
    self.binary = binary
    self.root = root
    self.systemdCgroup = systemdCgroup
  }

  private var global: [String] {
    var arguments = [binary, "--root", root]
    if systemdCgroup { arguments.append("--systemd-cgroup") }
    return arguments
  }

  /// Runs a runtime command; a failure becomes an error carrying the runtime's own message.
  @discardableResult
  func run(_ arguments: [String], what: String, timeout: Duration = .seconds(60)) async throws(CrispError) -> ProcessResult {
    let result = try await Subprocess.run(global + arguments, timeout: timeout)
    if result.timedOut { throw CrispError(.deadlineExceeded, "\(handler) \(what): timed out after \(timeout)") }
    guard result.status == 0 else {
      throw CrispError(.internal, "\(handler) \(what): \(Self.message(from: result))")
    }
    return result
  }

  /// The error text of a failed run: runc prints `time="…" level=error msg="…"` or plain text on stderr.
  static func message(from result: ProcessResult) -> String {
    let text = (result.stderrText.isEmpty ? result.stdoutText : result.stderrText).trimmingSpaces
    if let range = text.range(of: "msg=\"", options: .backwards) {
      var message = ""
      var escaped = false
      for character in text[range.upperBound...] {
        if escaped { message.append(character); escaped = false; continue }
        if character == "\\" { escaped = true; continue }
        if character == "\"" { break }
        message.append(character)
      }
      return message
    }
    return text.isEmpty ? "exit status \(result.status)" : text
  }

  /// `create` with the container's stdio on /dev/null (it inherits the runtime's) and errors read from the
  /// runtime's JSON log: for a probe container nobody reads output from.
  func probeCreate(_ id: String, bundle: String) async throws(CrispError) {
    let log = bundle + "/runtime.log"
    let result = try await Subprocess.run(
      global + ["--log", log, "--log-format", "json", "create", "--bundle", bundle, id], timeout: .seconds(30), discardOutput: true)
    guard result.status == 0 else {
      var message = "exit status \(result.status)"
      if let text = try? FilePath.readText(log) {
        for line in text.split(separator: "\n") {
          if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let msg = object["msg"] as? String,
            object["level"] as? String == "error"
          {
            message = msg
          }
        }
      }
      throw CrispError(.internal, "\(handler) create: \(message)")
    }
  }

  public func start(_ id: String) async throws(CrispError) {
    try await run(["start", id], what: "start \(id)")
  }

  /// Sends `signal` to the container's init (`all`: to every process in it).
  public func kill(_ id: String, signal: String, all: Bool = false) async throws(CrispError) {
    var arguments = ["kill"]
    if all { arguments.append("--all") }
    try await run(arguments + [id, signal], what: "kill \(id) \(signal)")
  }

  /// Deletes the container (killing it first when forced); a container the runtime does not know is fine.
  public func delete(_ id: String, force: Bool = true) async throws(CrispError) {
    let result = try await Subprocess.run(global + ["delete"] + (force ? ["--force"] : []) + [id], timeout: .seconds(60))
    if result.status != 0 {
      let message = Self.message(from: result)
      if message.contains("does not exist") || message.contains("not found") || message.contains("No such file") { return }
      throw CrispError(.internal, "\(handler) delete \(id): \(message)")
    }
  }

  /// The runtime's view of a container: its status (`created`, `running`, `stopped`, `paused`) and pid; nil
  /// when it does not know the container.
  public func state(_ id: String) async throws(CrispError) -> (status: String, pid: Int64)? {
    let result = try await Subprocess.run(global + ["state", id], timeout: .seconds(30))
    guard result.status == 0 else { return nil }
    guard let object = try? JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any] else { return nil }
    return (object["status"] as? String ?? "unknown", (object["pid"] as? NSNumber)?.int64Value ?? 0)
  }

  public func pause(_ id: String) async throws(CrispError) { try await run(["pause", id], what: "pause \(id)") }
  /// Whether the runtime can make bind mounts read-only recursively (`rro` among `runc features`' mount
  /// options) on a kernel with mount_setattr (5.12 and later).
  public func supportsRecursiveReadOnly() async -> Bool {
    guard Host.kernelAtLeast(5, 12) else { return false }
    guard let result = try? await Subprocess.run([binary, "features"], timeout: .seconds(10)), result.status == 0,
      let document = try? JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any],
      let options = document["mountOptions"] as? [String]
    else { return false }
    return options.contains("rro")
  }

  /// Applies new cgroup limits to a live container (`runc update --resources <file>`).
  public func update(_ id: String, resourcesFile: String) async throws(CrispError) {
    try await run(["update", "--resources", resourcesFile, id], what: "update \(id)")
  }
  public func resume(_ id: String) async throws(CrispError) { try await run(["resume", id], what: "resume \(id)") }
}
