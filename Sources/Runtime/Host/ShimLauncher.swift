public import CrispCore
import CLinux
import Glibc
import Tracing

/// Starts `crisp-shim` for a container and talks to it over its control socket.
public struct ShimLauncher: ShimControl {
  public let binary: String

  public init(binary: String) { self.binary = binary }

  public struct Request: Sendable {
    public var id: String
    /// The bundle (config.json, rootfs) and the shim's state directory: the same directory.
    public var directory: String
    public var runtime: any ContainerRuntime
    public var logPath: String
    public var maxLogLine: Int
    public var tty: Bool
    public var stdin: Bool
    public var stdinOnce: Bool
    public var memoryCgroup: String?
    public var oomScore: Int?

    public init(
      id: String, directory: String, runtime: any ContainerRuntime, logPath: String, maxLogLine: Int, tty: Bool, stdin: Bool,
      stdinOnce: Bool, memoryCgroup: String?, oomScore: Int?
    ) {
      self.id = id
      self.directory = directory
      self.runtime = runtime
      self.logPath = logPath
      self.maxLogLine = maxLogLine
      self.tty = tty
      self.stdin = stdin
      self.stdinOnce = stdinOnce
      self.memoryCgroup = memoryCgroup
      self.oomScore = oomScore
    }
  }

  /// Starts the shim, which runs `runc create`; returns the container's pid once created. A runtime
  /// failure comes back with the runtime's own message. Inside a traced CRI call this is the span
  /// `shim launch`, which covers the runtime's `create` (the shim runs it).
  public func start(_ request: Request) async throws(CrispError) -> Int64 {
    try await withChildSpan(
      "shim launch",
      attributes: [
        "crisp.container_id": .string(request.id), "oci.runtime.handler": .string(request.runtime.handler),
        "oci.runtime.command": "create",
      ]
    ) { () async throws(CrispError) -> Int64 in
      try await launch(request)
    }
  }

  private func launch(_ request: Request) async throws(CrispError) -> Int64 {
    var pipe: [Int32] = [-1, -1]
    guard crisp_pipe_cloexec(&pipe) == 0 else { throw CrispError.from(SystemError.last("pipe", "shim")) }
    var arguments = [
      binary, "--id", request.id, "--bundle", request.directory, "--state-dir", request.directory,
      "--runtime", request.runtime.binary, "--runtime-root", request.runtime.root, "--log-path", request.logPath,
      "--max-line", String(request.maxLogLine), "--sync-fd", "3",
    ]
    if request.tty { arguments.append("--tty") }
    if request.stdin { arguments.append("--stdin") }
    if request.stdinOnce { arguments.append("--stdin-once") }
    if request.runtime.systemdCgroup { arguments.append("--systemd-cgroup") }
    if let cgroup = request.memoryCgroup { arguments += ["--cgroup-dir", cgroup] }
    if let score = request.oomScore { arguments += ["--oom-score", String(score)] }
    let launcher: ProcessResult
    do {
      launcher = try await Subprocess.run(arguments, timeout: .seconds(30), extraFileDescriptors: [(pipe[1], 3)])
      close(pipe[1])
    } catch {
      close(pipe[1])
      close(pipe[0])
      throw error
    }
    let readEnd = pipe[0]
    let report = await onDedicatedThread { () -> String in
      defer { close(readEnd) }
      var data: [UInt8] = []
      var chunk = [UInt8](repeating: 0, count: 4096)
      var fds = [pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)]
      let deadline = ContinuousClock.now + .seconds(120)
      while ContinuousClock.now < deadline {
        if poll(&fds, 1, 1000) <= 0 { continue }
        let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        data.append(contentsOf: chunk[0..<n])
      }
      return String(decoding: data, as: UTF8.self)
    }
    let line = report.split(separator: "\n").first.map(String.init) ?? ""
    if line.hasPrefix("ok "), let pid = Int64(line.dropFirst(3)) { return pid }
    // No success report: whatever of the shim and runc is still running must not go on to create a
    // container nobody tracks.
    Self.killCreating(directory: request.directory, id: request.id)
    if line.hasPrefix("error ") {
      throw CrispError(.internal, "\(request.runtime.handler) create \(request.id): \(line.dropFirst(6))")
    }
    throw CrispError.internalError(
      "shim for \(request.id) did not report (launcher status \(launcher.status): \(launcher.stderrText.trimmingSpaces))")
  }

  /// Sends one command to a shim and returns its one-line answer. `timeout` bounds the whole exchange.
  public static func request(directory: String, _ command: String, timeout: Duration = .seconds(5)) async throws(CrispError) -> String {
    let path = directory + "/shim.sock"
    let outcome: Result<String, CrispError> = await onDedicatedThread {
      let fd: Int32
      do throws(SystemError) {
        fd = try UnixSocket.connect(to: path)
      } catch {
        return .failure(CrispError(.unavailable, "shim \(path) is not running (\(error.strerror))"))
      }
      defer { close(fd) }
      let seconds = max(1, Int(timeout.components.seconds))
      var interval = timeval(tv_sec: seconds, tv_usec: 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
      let bytes = Array((command + "\n").utf8)
      _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      var answer: [UInt8] = []
      var byte: UInt8 = 0
      while read(fd, &byte, 1) == 1 {
        if byte == 10 { break }
        answer.append(byte)
      }
      return .success(String(decoding: answer, as: UTF8.self))
    }
    return try outcome.get()
  }

  /// Sends `signal` to the container's init through its shim, which has not reaped it (so the pid cannot
  /// have been reused), without starting a runtime process. False when the shim could not: the caller then
  /// asks the runtime.
  public static func signal(directory: String, _ signal: Int32) async -> Bool {
    guard let answer = try? await request(directory: directory, "kill \(signal)") else { return false }
    return answer == "ok" || answer == "exited"
  }

  /// Kills a shim that was still creating its container when the daemon died (and `runc create` with it):
  /// the shim recorded its process group in `shim.pid`. Only a group whose members include a crisp-shim for
  /// `id` is signalled, so a reused process group id is left alone.
  public static func killCreating(directory: String, id: String) {
    guard let text = try? FilePath.readText(directory + "/shim.pid"), let group = Int32(text.trimmingSpaces), group > 1 else { return }
    guard let entries = try? FilePath.listDirectory("/proc") else { return }
    var ours = false
    for entry in entries {
      guard let pid = Int32(entry), ProcessStat.read(pid)?.group == group else { continue }
      let command = ((try? FilePath.read("/proc/\(pid)/cmdline")) ?? nil) ?? []
      let words = command.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      if words.first?.hasSuffix("crisp-shim") == true, words.contains(id) { ours = true }
    }
    if ours { kill(-group, SIGKILL) }
  }

  /// Whether a shim serves `directory`'s control socket.
  public static func isRunning(directory: String) -> Bool {
    UnixSocket.isLive(directory + "/shim.sock")
  }

  /// Waits until the container exits or `timeout` passes: on the shim's answer to `wait`, else by polling
  /// the exit file.
  public static func waitForExit(directory: String, timeout: Duration) async -> ContainerExit? {
    let deadline = ContinuousClock.now + timeout
    if let exit = ContainerExit.read(directory: directory) { return exit }
    // The shim answers `wait` right after it writes the exit file: no polling delay. Each wait holds a
    // thread, so it asks in slices of a second (a long grace period never pins a thread for its length); a
    // shim that cannot answer, and the last part of a second, fall back to polling the exit file.
    while deadline - ContinuousClock.now >= .seconds(1) {
      guard let answer = try? await request(directory: directory, "wait", timeout: .seconds(1)) else { break }
      if let exit = ContainerExit.read(directory: directory) { return exit }
      if answer.hasPrefix("exited") { break }
    }
    var interval = Duration.milliseconds(5)
    while true {
      if let exit = ContainerExit.read(directory: directory) { return exit }
      if ContinuousClock.now >= deadline { return nil }
      try? await Task.sleep(for: interval)
      interval = min(interval * 2, .milliseconds(50))
    }
  }

  // The control-socket calls need no launcher state; Streaming uses the static forms directly.
  public func request(directory: String, _ command: String, timeout: Duration) async throws(CrispError) -> String {
    try await Self.request(directory: directory, command, timeout: timeout)
  }
  public func signal(directory: String, _ signal: Int32) async -> Bool { await Self.signal(directory: directory, signal) }
  public func waitForExit(directory: String, timeout: Duration) async -> ContainerExit? {
    await Self.waitForExit(directory: directory, timeout: timeout)
  }
  public func isRunning(directory: String) -> Bool { Self.isRunning(directory: directory) }
  public func killCreating(directory: String, id: String) { Self.killCreating(directory: directory, id: id) }
}
