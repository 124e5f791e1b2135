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
    var cgroupFDs: [Int32] = []
    defer { for fd in cgroupFDs { close(fd) } }
    for file in files {
      let fd = open(file, O_WRONLY | O_CLOEXEC)
      guard fd >= 0 else { return .failed(CrispError.internalError("exec in container \(id): open \(file): \(String(cString: strerror(errno)))")) }
      cgroupFDs.append(fd)
    }
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
    // ExecSync's timeout is the caller's int64 of seconds: bounded before it is scaled (a timeout past
    // Int32.max milliseconds, 24 days, is that long).
    let timeoutMilliseconds =
      timeout.map { duration -> Int32 in
        let seconds = min(max(duration.components.seconds, 0), Int64(Int32.max / 1000))
        return Int32(clamping: seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
      } ?? 0
    var commandPID: pid_t = -1  // reported by the helper; timeouts go through the waiter
    var failure: Int32 = 0
    var message = [CChar](repeating: 0, count: 512)
    let waiterPID = crisp_exec_in_container(&request, timeoutMilliseconds, &commandPID, &failure, &message, message.count)
    let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard waiterPID > 0 else {
      switch failure {
      case 127:
        let what = command[0].contains("/") ? reason : "\"\(command[0])\": executable file not found in $PATH"
        return .finished(ProcessResult(status: 127, stdout: [], stderr: Array("exec failed: \(what)\n".utf8), timedOut: false, truncated: false))
      case 126:
        return .finished(ProcessResult(status: 126, stdout: [], stderr: Array("exec failed: \(reason)\n".utf8), timedOut: false, truncated: false))
      case 124:
        return .finished(ProcessResult(status: 124, stdout: [], stderr: Array("exec failed: \(reason)\n".utf8), timedOut: true, truncated: false))
      default:
        return .failed(CrispError.internalError("exec in container \(id): \(reason)"))
      }
    }
    waiter.value.withLock { $0 = waiterPID }
    return .started(waiterPID)
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
