import Glibc
import CLinux

/// What a finished child process left behind.
public struct ProcessResult: Sendable {
  /// The exit code, or 128 + the signal that ended it.
  public var status: Int32
  public var stdout: [UInt8]
  public var stderr: [UInt8]
  /// The process was killed because it ran past its timeout.
  public var timedOut: Bool
  /// Output beyond the limit was dropped.
  public var truncated: Bool

  public init(status: Int32, stdout: [UInt8], stderr: [UInt8], timedOut: Bool, truncated: Bool) {
    self.status = status
    self.stdout = stdout
    self.stderr = stderr
    self.timedOut = timedOut
    self.truncated = truncated
  }

  public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
  public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs helper programs (runc, CNI plugins, the shim) without blocking Swift's cooperative threads: each
/// run waits on a thread of its own, created for the call.
///
/// Children start with a clean signal mask and default dispositions (the daemon's threads block signals
/// that children must see), and only the file descriptors named here: everything crisp opens is close-on-exec.
public enum Subprocess {
  /// Runs `arguments[0]` (an absolute path) to completion, capturing stdout and stderr (each up to
  /// `outputLimit` bytes). With a `timeout`, the process (and its process group) is killed when it runs
  /// over, and `timedOut` is set. `onStart` receives the pid (to signal it from elsewhere).
  public static func run(
    _ arguments: [String], environment: [String]? = nil, stdin: [UInt8]? = nil, timeout: Duration? = nil,
    outputLimit: Int = 16 << 20, newProcessGroup: Bool = false, extraFileDescriptors: [(source: Int32, target: Int32)] = [],
    onStart: (@Sendable (Int32) -> Void)? = nil, onTimeout: (@Sendable () -> Void)? = nil, discardOutput: Bool = false
  ) async throws(CrispError) -> ProcessResult {
    let request = Request(
      arguments: arguments, environment: environment, stdin: stdin, timeout: timeout, outputLimit: outputLimit,
      newProcessGroup: newProcessGroup, extraFileDescriptors: extraFileDescriptors, onStart: onStart, onTimeout: onTimeout,
      discardOutput: discardOutput)
    let outcome: Result<ProcessResult, CrispError> = await onDedicatedThread { request.execute() }
    return try outcome.get()
  }

  /// How a ``run(launch:what:timeout:outputLimit:onTimeout:)`` launcher ended.
  public enum Launch: Sendable {
    /// Running, as this pid: a child of the daemon to reap.
    case started(Int32)
    /// Over before it ran (a command that could not be found, say), with the result to report.
    case finished(ProcessResult)
    case failed(CrispError)
  }

  /// Like ``run(_:environment:stdin:timeout:outputLimit:newProcessGroup:extraFileDescriptors:onStart:onTimeout:discardOutput:)``,
  /// for a process started by `launch` instead of posix_spawn: it receives the descriptors for the process's
  /// stdin (-1: /dev/null), stdout and stderr. `what` names the process in messages.
  public static func run(
    launch: @escaping @Sendable (_ stdin: Int32, _ stdout: Int32, _ stderr: Int32) -> Launch, what: String, timeout: Duration? = nil,
    outputLimit: Int = 16 << 20, onTimeout: (@Sendable () -> Void)? = nil
  ) async throws(CrispError) -> ProcessResult {
    var request = Request(
      arguments: [what], environment: nil, stdin: nil, timeout: timeout, outputLimit: outputLimit, newProcessGroup: false,
      extraFileDescriptors: [], onStart: nil, onTimeout: onTimeout, discardOutput: false)
    request.launcher = launch
    let prepared = request
    let outcome: Result<ProcessResult, CrispError> = await onDedicatedThread { prepared.execute() }
    return try outcome.get()
  }

  /// Starts `arguments[0]` (an absolute path) with the given descriptors as its stdin, stdout and stderr
  /// (-1: /dev/null) and returns its pid without waiting; the caller reaps it (``wait(_:)``). For processes
  /// whose I/O is streamed while they run (exec sessions).
  public static func spawn(_ arguments: [String], stdin: Int32, stdout: Int32, stderr: Int32) throws(CrispError) -> Int32 {
    guard let program = arguments.first, program.hasPrefix("/") else {
      throw CrispError.internalError("subprocess: \"\(arguments.first ?? "")\" is not an absolute path")
    }
    let (pid, spawned) = posixSpawn(arguments, environment: nil, newProcessGroup: false) { actions in
      for (fd, target, flags) in [(stdin, Int32(0), O_RDONLY), (stdout, 1, O_WRONLY), (stderr, 2, O_WRONLY)] {
        if fd >= 0 {
          posix_spawn_file_actions_adddup2(&actions, fd, target)
        } else {
          posix_spawn_file_actions_addopen(&actions, target, "/dev/null", flags, 0)
        }
      }
    }
    guard spawned == 0 else {
      throw CrispError(.failedPrecondition, "cannot run \(program): \(SystemError("posix_spawn", program, errno: spawned).strerror)")
    }
    return pid
  }

  /// Reaps a process started with ``spawn(_:stdin:stdout:stderr:)``, blocking the calling thread; returns its
  /// exit code (128 + signal for a killed process).
  public static func wait(_ pid: Int32) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
      if errno != EINTR { return -1 }
    }
    return exitCode(status)
  }

  /// posix_spawn with crisp's rules for children: a clean signal mask, default dispositions for the signals
  /// the daemon handles, optionally a process group of their own; `configure` sets up the descriptors.
  static func posixSpawn(
    _ arguments: [String], environment: [String]?, newProcessGroup: Bool, configure: (inout posix_spawn_file_actions_t) -> Void
  ) -> (pid_t, Int32) {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    configure(&actions)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGPIPE, SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var flags = Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
    if newProcessGroup {
      flags |= Int16(POSIX_SPAWN_SETPGROUP)
      posix_spawnattr_setpgroup(&attributes, 0)
    }
    posix_spawnattr_setflags(&attributes, flags)
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = (environment ?? currentEnvironment()).map { strdup($0) } + [nil]
    defer {
      for pointer in argv { free(pointer) }
      for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
    return (pid, spawned)
  }

  struct Request: @unchecked Sendable {
    var arguments: [String]
    var environment: [String]?
    var stdin: [UInt8]?
    var timeout: Duration?
    var outputLimit: Int
    var newProcessGroup: Bool
    var extraFileDescriptors: [(source: Int32, target: Int32)]
    var onStart: (@Sendable (Int32) -> Void)?
    /// Called when the timeout passes, before the process is killed: a chance to end what it started
    /// (runc exec's command) so the process exits, and reaps, by itself within a short grace period.
    var onTimeout: (@Sendable () -> Void)?
    /// stdout and stderr go to /dev/null: for programs whose children inherit them and live on (runc create
    /// hands its stdio to the container), where waiting for end-of-file would wait for the child.
    var discardOutput: Bool
    /// Starts the process instead of posix_spawn (see ``Subprocess/run(launch:what:timeout:outputLimit:onTimeout:)``).
    var launcher: (@Sendable (Int32, Int32, Int32) -> Launch)?

    func execute() -> Result<ProcessResult, CrispError> {
      guard let program = arguments.first, launcher != nil || program.hasPrefix("/") else {
        return .failure(CrispError.internalError("subprocess: \"\(arguments.first ?? "")\" is not an absolute path"))
      }
      var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1], inPipe: [Int32] = [-1, -1]
      guard crisp_pipe_cloexec(&outPipe) == 0, crisp_pipe_cloexec(&errPipe) == 0, stdin == nil || crisp_pipe_cloexec(&inPipe) == 0 else {
        let error = SystemError.last("pipe", program)
        for fd in outPipe + errPipe + inPipe where fd >= 0 { close(fd) }
        return .failure(CrispError.failed("run \(program)", error))
      }
      if let launcher {
        let launched = launcher(stdin != nil ? inPipe[0] : -1, outPipe[1], errPipe[1])
        close(outPipe[1])
        close(errPipe[1])
        if stdin != nil { close(inPipe[0]) }
        switch launched {
        case .started(let pid):
          return .success(collect(pid: pid, stdout: outPipe[0], stderr: errPipe[0], stdin: stdin != nil ? inPipe[1] : -1))
        case .finished(let result):
          for fd in [outPipe[0], errPipe[0], stdin != nil ? inPipe[1] : -1] where fd >= 0 { close(fd) }
          return .success(result)
        case .failed(let error):
          for fd in [outPipe[0], errPipe[0], stdin != nil ? inPipe[1] : -1] where fd >= 0 { close(fd) }
          return .failure(error)
        }
      }
      let (pid, spawned) = Subprocess.posixSpawn(arguments, environment: environment, newProcessGroup: newProcessGroup) { actions in
        if stdin != nil {
          posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
          posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if discardOutput {
          posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
          posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        } else {
          posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
          posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        }
        for (source, target) in extraFileDescriptors { posix_spawn_file_actions_adddup2(&actions, source, target) }
      }
      close(outPipe[1])
      close(errPipe[1])
      if stdin != nil { close(inPipe[0]) }
      guard spawned == 0 else {
        close(outPipe[0])
        close(errPipe[0])
        if stdin != nil { close(inPipe[1]) }
        return .failure(CrispError(.failedPrecondition, "cannot run \(program): \(SystemError("posix_spawn", program, errno: spawned).strerror)"))
      }
      onStart?(pid)
      return .success(collect(pid: pid, stdout: outPipe[0], stderr: errPipe[0], stdin: stdin != nil ? inPipe[1] : -1))
    }

    /// Feeds stdin, gathers stdout and stderr until both end (killing the process past its timeout), reaps it.
    private func collect(pid: Int32, stdout outFD: Int32, stderr errFD: Int32, stdin inFD: Int32) -> ProcessResult {
      if let stdin, inFD >= 0 {
        // Small inputs (JSON configs); a full pipe buffer would need a writer thread, so they stay small.
        stdin.withUnsafeBytes { raw in
          guard let base = raw.baseAddress else { return }
          var offset = 0
          while offset < raw.count {
            let n = write(inFD, base + offset, raw.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            offset += n
          }
        }
        close(inFD)
      }
      var result = ProcessResult(status: 0, stdout: [], stderr: [], timedOut: false, truncated: false)
      var deadline = timeout.map { ContinuousClock.now + $0 }
      var graceGiven = false
      var open = [outFD, errFD]
      var buffer = [UInt8](repeating: 0, count: 64 * 1024)
      while open.contains(where: { $0 >= 0 }) {
        var fds = open.filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var wait: Int32 = -1
        if let current = deadline {
          let left = current - ContinuousClock.now
          if left <= .zero {
            result.timedOut = true
            if let onTimeout, !graceGiven {
              graceGiven = true
              onTimeout()
              deadline = ContinuousClock.now + .seconds(2)
              continue
            }
            kill(newProcessGroup ? -pid : pid, SIGKILL)
            break
          }
          wait = Int32(min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
        }
        let ready = poll(&fds, nfds_t(fds.count), wait)
        if ready < 0 && errno != EINTR { break }
        for entry in fds where entry.revents != 0 {
          let n = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
          let index = entry.fd == open[0] ? 0 : 1
          if n <= 0 {
            close(entry.fd)
            open[index] = -1
            continue
          }
          let room = outputLimit - (index == 0 ? result.stdout.count : result.stderr.count)
          if room < n { result.truncated = true }
          if room > 0 {
            if index == 0 {
              result.stdout.append(contentsOf: buffer[0..<min(n, room)])
            } else {
              result.stderr.append(contentsOf: buffer[0..<min(n, room)])
            }
          }
        }
      }
      for fd in open where fd >= 0 { close(fd) }
      var status: Int32 = 0
      while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
      result.status = exitCode(status)
      return result
    }
  }

  /// The exit code the way shells report it.
  public static func exitCode(_ status: Int32) -> Int32 {
    let signal = status & 0x7f
    if signal == 0 { return (status >> 8) & 0xff }
    return 128 + signal
  }

  static func currentEnvironment() -> [String] {
    var result: [String] = []
    var pointer = environ
    while let entry = pointer.pointee {
      result.append(String(cString: entry))
      pointer += 1
    }
    return result
  }
}

/// Runs blocking work on a new thread of its own and awaits its result, leaving Swift's cooperative
/// thread pool free (on a two-core node it has two threads).
public func onDedicatedThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
  await withCheckedContinuation { continuation in
    let box = Unmanaged.passRetained(ThreadWork { continuation.resume(returning: work()) })
    var thread = pthread_t()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    pthread_attr_setstacksize(&attributes, 512 * 1024)
    let created = pthread_create(
      &thread, &attributes,
      { context in
        // pthread_create hands back the pointer it was given, never nil.
        guard let context else { return nil }
        let work = Unmanaged<ThreadWork>.fromOpaque(context).takeRetainedValue()
        work.body()
        return nil
      }, box.toOpaque())
    pthread_attr_destroy(&attributes)
    if created != 0 {
      // No thread to be had: run here rather than fail.
      box.takeRetainedValue().body()
    }
  }
}

private final class ThreadWork: @unchecked Sendable {
  let body: () -> Void
  init(_ body: @escaping () -> Void) { self.body = body }
}
