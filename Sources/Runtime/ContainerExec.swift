import CLinux
import CrispCore
import CSeccomp
import Foundation
import Glibc
import Images
import Synchronization
import OCI

/// Starts a command inside a running container with the container's ``ExecProfile`` (see
/// `crisp_exec_in_container`), for ExecSync.
enum ContainerExec {
  /// Where a container's init sits in each cgroup hierarchy, as `cgroup.procs` files to join; nil when
  /// `pid` is not a process of container `id` (it exited, and the pid may have been reused).
  static func cgroupProcsFiles(pid: Int32, id: String) -> [String]? {
    guard let text = (try? FilePath.readText("/proc/\(pid)/cgroup")) ?? nil else { return nil }
    var files: [String] = []
    var belongs = false
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard fields.count == 3 else { continue }
      let path = String(fields[2])
      if path.contains(id) { belongs = true }
      guard let mount = CgroupMounts.current.mountPoint(hierarchy: Int(fields[0]) ?? -1, controllers: String(fields[1])) else { continue }
      files.append(FilePath.join(mount, path) + "/cgroup.procs")
    }
    return belongs ? files : nil
  }

  /// Runs `command` in container `id` (init `pid`) and gathers its output like ``Subprocess/run(_:environment:stdin:timeout:outputLimit:newProcessGroup:extraFileDescriptors:onStart:onTimeout:discardOutput:)``.
  /// A command that cannot be found or executed comes back as its result (exit code 127 or 126 and the
  /// reason on stderr), as from a shell.
  static func run(_ profile: ExecProfile, pid: Int32, id: String, command: [String], timeout: Duration?) async throws(CrispError) -> ProcessResult {
    let waiter = WaiterPID()
    return try await Subprocess.run(
      launch: { stdin, stdout, stderr in
        start(profile, pid: pid, id: id, command: command, stdio: (stdin, stdout, stderr), timeout: timeout, waiter: waiter)
      }, what: "exec in container \(id)", timeout: timeout,
      onTimeout: {
        // The waiter kills the command: its pid stays valid until crisp reaps it, the command's may not.
        let target = waiter.value.withLock { $0 }
        if target > 0 { kill(target, SIGTERM) }
      })
  }

  /// The waiter's pid, shared with the timeout handler.
  final class WaiterPID: Sendable {
    let value = Mutex<Int32>(-1)
  }

  private static func start(
    _ profile: ExecProfile, pid: Int32, id: String, command: [String], stdio: (Int32, Int32, Int32), timeout: Duration?, waiter: WaiterPID
  ) -> Subprocess.Launch {
    let pidfd = crisp_pidfd_open(pid)
    guard pidfd >= 0 else { return .failed(CrispError.failedPrecondition("container \(id) is not running")) }
    defer { close(pidfd) }
    guard let files = cgroupProcsFiles(pid: pid, id: id) else {
      return .failed(CrispError.failedPrecondition("container \(id) is not running"))
    }
    let cgroupFDs: [Int32]
    switch openCgroupFiles(files, id: id) {
    case .success(let fds): cgroupFDs = fds
    case .failure(let error): return .failed(error)
    }
    defer { for fd in cgroupFDs { close(fd) } }
    // C copies of everything the request points to, freed once the command has started.
    let arguments = command.map { strdup($0) }, environment = profile.environment.map { strdup($0) }
    let keyring = strdup("_ses." + id), searchPath = strdup(profile.searchPath), cwd = strdup(profile.cwd)
    defer { for pointer in arguments + environment + [keyring, searchPath, cwd] { free(pointer) } }
    let argv = CBuffer(arguments.map { UnsafePointer($0) } + [nil])
    let envp = CBuffer(environment.map { UnsafePointer($0) } + [nil])
    let cgroups = CBuffer(cgroupFDs), groups = CBuffer(profile.groups), rlimits = CBuffer(profile.rlimits), filter = CBuffer(profile.filter)
    defer { argv.free(); envp.free(); cgroups.free(); groups.free(); rlimits.free(); filter.free() }
    var request = crisp_exec_request()
    request.pidfd = pidfd
    request.namespaces = profile.namespaces
    request.cgroup_procs = cgroups.pointer
    request.cgroup_count = cgroups.count
    request.set_oom_score_adj = profile.oomScoreAdj == nil ? 0 : 1
    request.oom_score_adj = profile.oomScoreAdj ?? 0
    request.argv = argv.pointer
    request.envp = envp.pointer
    request.session_keyring = UnsafePointer(keyring)
    request.search_path = UnsafePointer(searchPath)
    request.cwd = UnsafePointer(cwd)
    request.uid = profile.uid
    request.gid = profile.gid
    request.groups = groups.pointer
    request.group_count = groups.count
    request.umask = profile.umask
    request.bounding = profile.bounding
    request.effective = profile.effective
    request.permitted = profile.permitted
    request.inheritable = profile.inheritable
    request.ambient = profile.ambient
    request.last_cap = ExecProfile.lastCapability
    request.rlimits = rlimits.pointer
    request.rlimit_count = rlimits.count
    request.no_new_privileges = profile.noNewPrivileges ? 1 : 0
    request.filter = profile.filter.isEmpty ? nil : UnsafeRawPointer(filter.pointer)
    request.filter_instructions = profile.filterInstructions
    request.filter_flags = profile.filterFlags
    request.stdin_fd = stdio.0
    request.stdout_fd = stdio.1
    request.stderr_fd = stdio.2
    var commandPID: pid_t = -1  // reported by the helper; timeouts go through the waiter
    var failure: Int32 = 0
    var message = [CChar](repeating: 0, count: 512)
    let waiterPID = crisp_exec_in_container(&request, milliseconds(timeout), &commandPID, &failure, &message, message.count)
    let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard waiterPID > 0 else { return launchFailure(failure, reason: reason, command: command, id: id) }
    waiter.value.withLock { $0 = waiterPID }
    return .started(waiterPID)
  }

  /// The container's cgroup.procs files, opened for the helper to join (closed by the caller).
  private static func openCgroupFiles(_ files: [String], id: String) -> Result<[Int32], CrispError> {
    var fds: [Int32] = []
    for file in files {
      let fd = open(file, O_WRONLY | O_CLOEXEC)
      guard fd >= 0 else {
        let error = SystemError.last("open", file)
        for opened in fds { close(opened) }
        return .failure(CrispError.failed("exec in container \(id)", error))
      }
      fds.append(fd)
    }
    return .success(fds)
  }

  /// ExecSync's timeout is the caller's int64 of seconds: bounded before it is scaled (a timeout past
  /// Int32.max milliseconds, 24 days, is that long). 0: none.
  private static func milliseconds(_ timeout: Duration?) -> Int32 {
    guard let timeout else { return 0 }
    let seconds = min(max(timeout.components.seconds, 0), Int64(Int32.max / 1000))
    return Int32(clamping: seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
  }

  /// A command that did not start: the shell's exit codes for "not found" (127), "not executable" (126) and
  /// a start that outlived the timeout (124) come back as the command's own result, as runc exec reports them;
  /// anything else is crisp's failure.
  private static func launchFailure(_ failure: Int32, reason: String, command: [String], id: String) -> Subprocess.Launch {
    let result = { (status: Int32, text: String, timedOut: Bool) -> Subprocess.Launch in
      .finished(ProcessResult(status: status, stdout: [], stderr: Array("exec failed: \(text)\n".utf8), timedOut: timedOut, truncated: false))
    }
    let name = command.first ?? ""
    switch failure {
    case 127: return result(127, name.contains("/") ? reason : "\"\(name)\": executable file not found in $PATH", false)
    case 126: return result(126, reason, false)
    case 124: return result(124, reason, true)
    default: return .failed(CrispError.internalError("exec in container \(id): \(reason)"))
    }
  }
}

/// An array copied to C memory, for a C struct to point at (freed explicitly).
private struct CBuffer<Element> {
  let buffer: UnsafeMutableBufferPointer<Element>
  let count: Int32

  init(_ values: [Element]) {
    buffer = .allocate(capacity: max(values.count, 1))
    _ = buffer.initialize(from: values)
    count = Int32(values.count)
  }

  var pointer: UnsafePointer<Element>? { UnsafePointer(buffer.baseAddress) }
  func free() { buffer.deallocate() }
}
