public import CrispCore
import CLinux
import Foundation
import Glibc
import Tracing

/// Drives an OCI runtime binary (runc, crun) for one handler: `--root` per handler, JSON logs so that a
/// failure's own message reaches the CRI caller.
public struct OCIRuntime: ContainerRuntime {
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

  /// Runs a runtime command; a failure becomes an error carrying the runtime's own message.
  @discardableResult
  func run(_ arguments: [String], what: String, timeout: Duration = .seconds(60)) async throws(CrispError) -> ProcessResult {
    let result = try await traced(arguments) { () async throws(CrispError) -> ProcessResult in
      try await Subprocess.run(globalArguments + arguments, timeout: timeout)
    }
    if result.timedOut { throw CrispError(.deadlineExceeded, "\(handler) \(what): timed out after \(timeout)") }
    guard result.status == 0 else {
      throw CrispError(.internal, "\(handler) \(what): \(Self.message(from: result))")
    }
    return result
  }

  /// Inside a traced CRI call, one runtime command is a span `runc start` (`crun kill`, …) with its
  /// arguments; `direct` marks what crisp did itself instead of starting the runtime (see ``start(_:pid:)``).
  func traced<T>(_ arguments: [String], direct: Bool = false, _ body: () async throws(CrispError) -> T) async throws(CrispError) -> T {
    let command = arguments.first ?? ""
    return try await withChildSpan(
      "\(FilePath.lastComponent(of: binary)) \(command)",
      attributes: [
        "oci.runtime.handler": .string(handler), "oci.runtime.command": .string(command),
        "oci.runtime.args": .string(arguments.joined(separator: " ")), "crisp.oci.runtime.bypassed": .bool(direct),
      ], body)
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
  public func probeCreate(_ id: String, bundle: String) async throws(CrispError) {
    let log = bundle + "/runtime.log"
    let result = try await Subprocess.run(
      globalArguments + ["--log", log, "--log-format", "json", "create", "--bundle", bundle, id], timeout: .seconds(30), discardOutput: true)
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

  /// Starts a created container whose init is `pid`. With runc, crisp does what `runc start` itself does:
  /// it reads the byte runc's init writes to the container's `exec.fifo` (the init then execs the process)
  /// and removes the fifo, which saves starting a runtime process per container. Other runtimes, and a
  /// container without the fifo, go through the runtime's own `start`.
  public func start(_ id: String, pid: Int64) async throws(CrispError) {
    guard FilePath.lastComponent(of: binary) == "runc", pid > 0, let initPID = Int32(exactly: pid) else {
      try await start(id)
      return
    }
    let fifo = FilePath.join(root, "\(id)/exec.fifo")
    let status = try await traced(["start", id], direct: true) { () async throws(CrispError) -> Int32 in
      await onDedicatedThread { crisp_release_exec_fifo(fifo, initPID, 30_000) }
    }
    switch status {
    case 0:
      return
    case ENOENT:
      try await start(id)
    case ESRCH:
      throw CrispError(.internal, "\(handler) start \(id): the container's init (pid \(pid)) exited before it was started")
    default:
      throw CrispError(.internal, "\(handler) start \(id): \(SystemError("exec fifo", fifo, errno: status).strerror)")
    }
  }

  /// Sends `signal` to the container's init (`all`: to every process in it).
  public func kill(_ id: String, signal: String, all: Bool) async throws(CrispError) {
    var arguments = ["kill"]
    if all { arguments.append("--all") }
    try await run(arguments + [id, signal], what: "kill \(id) \(signal)")
  }

  /// Deletes the container (killing it first when forced); a container the runtime does not know is fine.
  public func delete(_ id: String, force: Bool) async throws(CrispError) {
    let arguments = ["delete"] + (force ? ["--force"] : []) + [id]
    let result = try await traced(arguments) { () async throws(CrispError) -> ProcessResult in
      try await Subprocess.run(globalArguments + arguments, timeout: .seconds(60))
    }
    if result.status != 0 {
      let message = Self.message(from: result)
      if message.contains("does not exist") || message.contains("not found") || message.contains("No such file") { return }
      throw CrispError(.internal, "\(handler) delete \(id): \(message)")
    }
  }

  /// Deletes a container whose init has exited (its shim wrote the exit file). With runc and cgroupfs, crisp
  /// does what `runc delete` does for a stopped container — removes its cgroups, then its state directory —
  /// without starting a runtime process. A cgroup that still holds processes (a shared PID namespace), the
  /// systemd driver, another runtime or a state it cannot read goes to the runtime's `delete --force`.
  public func delete(stopped id: String) async throws(CrispError) {
    guard FilePath.lastComponent(of: binary) == "runc", !systemdCgroup else { return try await delete(id) }
    let directory = FilePath.join(root, id)
    guard FilePath.exists(directory) else { return }
    guard let data = FileManager.default.contents(atPath: directory + "/state.json"),
      let state = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let paths = state["cgroup_paths"] as? [String: String]
    else { return try await delete(id) }
    // Deepest first, and only real cgroup directories.
    for path in Set(paths.values).sorted(by: { $0.count > $1.count }) where path.hasPrefix("/sys/fs/cgroup/") && !path.contains("/../") {
      guard FilePath.isDirectory(path) else { continue }
      let procs = (try? FilePath.readText(path + "/cgroup.procs")) ?? nil
      guard let procs, procs.trimmingSpaces.isEmpty else { return try await delete(id) }
      // The kernel may still be tearing the last task down: a few short retries, as runc does.
      var removed = false
      for attempt in 0..<5 {
        if rmdir(path) == 0 || errno == ENOENT {
          removed = true
          break
        }
        if errno != EBUSY { break }
        try? await Task.sleep(for: .milliseconds(attempt == 0 ? 2 : 10))
      }
      guard removed else { return try await delete(id) }
    }
    do {
      try FilePath.removeTree(directory)
    } catch {
      throw CrispError(.internal, "\(handler) delete \(id): \(error)")
    }
  }

  /// The runtime's view of a container: its status (`created`, `running`, `stopped`, `paused`) and pid; nil
  /// when it does not know the container.
  public func state(_ id: String) async throws(CrispError) -> (status: String, pid: Int64)? {
    let result = try await traced(["state", id]) { () async throws(CrispError) -> ProcessResult in
      try await Subprocess.run(globalArguments + ["state", id], timeout: .seconds(30))
    }
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
