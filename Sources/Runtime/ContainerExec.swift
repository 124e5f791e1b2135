import CLinux
import CrispCore
import CSeccomp
import Foundation
import Glibc
import Images
import Synchronization
import OCI

/// Everything `runc exec` applies to a command run in a container, read once from the container's OCI spec:
/// its namespaces and cgroups (taken from the running init), environment, working directory, user and
/// groups, umask, resource limits, capabilities, no_new_privs and compiled seccomp filter.
///
/// With it crisp starts ExecSync commands itself (``ContainerExec``): one fork joins the container and a
/// second execs the command, where `runc exec` starts two Go programs (runc and its init). kubelet's exec
/// probes run every few seconds in every pod, so this is most of what ExecSync costs.
struct ExecProfile: Sendable {
  var namespaces: Int32
  var environment: [String]
  var searchPath: String
  var cwd: String
  var uid: UInt32
  var gid: UInt32
  var groups: [UInt32]
  var umask: UInt32
  var bounding: UInt64
  var effective: UInt64
  var permitted: UInt64
  var inheritable: UInt64
  var ambient: UInt64
  var rlimits: [crisp_exec_rlimit]
  var noNewPrivileges: Bool
  var oomScoreAdj: Int32?
  /// `struct sock_filter` instructions, as bytes; empty for no seccomp.
  var filter: [UInt8]
  var filterInstructions: Int32
  var filterFlags: UInt32

  /// Why a spec needs the OCI runtime's own exec: something crisp does not apply itself.
  struct Unsupported: Error {
    let reason: String
  }

  /// `home`: the user's home directory in the container, for a spec whose environment has no HOME (runc
  /// sets it the same way for the container's own process).
  static func make(_ spec: OCISpec, home: (UInt32) -> String? = { _ in nil }) throws(Unsupported) -> ExecProfile {
    guard let process = spec.process else { throw Unsupported(reason: "no process in the spec") }
    if let profile = process.apparmorProfile, !profile.isEmpty { throw Unsupported(reason: "AppArmor profile") }
    if let label = process.selinuxLabel, !label.isEmpty { throw Unsupported(reason: "SELinux label") }
    var namespaces: Int32 = 0
    for namespace in spec.linux?.namespaces ?? [] {
      guard let flag = namespaceFlags[namespace.type] else { throw Unsupported(reason: "namespace \(namespace.type)") }
      namespaces |= flag
    }
    var environment = process.env ?? []
    if !environment.contains(where: { $0.hasPrefix("HOME=") }) { environment.append("HOME=" + (home(process.user.uid) ?? "/")) }
    let path = environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
    var rlimits: [crisp_exec_rlimit] = []
    for limit in process.rlimits ?? [] {
      guard let resource = rlimitNumbers[limit.type] else { throw Unsupported(reason: "rlimit \(limit.type)") }
      rlimits.append(crisp_exec_rlimit(resource: resource, soft: limit.soft, hard: limit.hard))
    }
    var filter: [UInt8] = []
    var instructions: Int32 = 0
    var flags: UInt32 = 0
    if let seccomp = spec.linux?.seccomp {
      (filter, instructions) = try SeccompCompiler.compile(seccomp)
      for flag in seccomp.flags ?? [] {
        guard let value = seccompFlags[flag] else { throw Unsupported(reason: "seccomp flag \(flag)") }
        flags |= value
      }
    }
    let capabilities = process.capabilities
    return ExecProfile(
      namespaces: namespaces, environment: environment,
      searchPath: path ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", cwd: process.cwd.isEmpty ? "/" : process.cwd,
      uid: process.user.uid, gid: process.user.gid, groups: process.user.additionalGids ?? [], umask: process.user.umask ?? 0o022,
      bounding: mask(capabilities?.bounding), effective: mask(capabilities?.effective), permitted: mask(capabilities?.permitted),
      inheritable: mask(capabilities?.inheritable), ambient: mask(capabilities?.ambient), rlimits: rlimits,
      noNewPrivileges: process.noNewPrivileges ?? false, oomScoreAdj: process.oomScoreAdj.map { Int32(clamping: $0) },
      filter: filter, filterInstructions: instructions, filterFlags: flags)
  }

  /// Capability names as a bit mask; names this build does not know are left out, as runc leaves them.
  static func mask(_ names: [String]?) -> UInt64 {
    var mask: UInt64 = 0
    for name in names ?? [] {
      if let bit = LinuxCapabilities.all.firstIndex(of: name), bit < 64 { mask |= 1 << UInt64(bit) }
    }
    return mask
  }

  /// CLONE_NEW* values (sched.h; Swift's Glibc does not export them).
  static let namespaceFlags: [String: Int32] = [
    "pid": 0x2000_0000, "network": 0x4000_0000, "mount": 0x0002_0000, "ipc": 0x0800_0000,
    "uts": 0x0400_0000, "user": 0x1000_0000, "cgroup": 0x0200_0000, "time": 0x0000_0080,
  ]

  static let rlimitNumbers: [String: Int32] = [
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4, "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
  ]

  static let seccompFlags: [String: UInt32] = [
    "SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
  ]

  /// The kernel's highest capability number.
  static let lastCapability: Int32 = {
    let text = (try? FilePath.readText("/proc/sys/kernel/cap_last_cap")) ?? nil
    return text.flatMap { Int32($0.trimmingSpaces) } ?? Int32(LinuxCapabilities.all.count - 1)
  }()
}

/// OCI seccomp sections compiled to a kernel filter with libseccomp, as runc compiles them (see
/// `crisp_seccomp_export` for the rules both follow).
enum SeccompCompiler {
  static func compile(_ seccomp: OCISpec.Seccomp) throws(ExecProfile.Unsupported) -> (program: [UInt8], instructions: Int32) {
    var message = [CChar](repeating: 0, count: 256)
    func failure() -> ExecProfile.Unsupported {
      ExecProfile.Unsupported(reason: "seccomp: " + String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    guard let filter = crisp_seccomp_new(seccomp.defaultAction, seccomp.defaultErrnoRet ?? UInt32(EPERM), &message, message.count) else {
      throw failure()
    }
    defer { crisp_seccomp_release(filter) }
    for architecture in seccomp.architectures ?? [] {
      guard crisp_seccomp_add_architecture(filter, architecture, &message, message.count) == 0 else { throw failure() }
    }
    for rule in seccomp.syscalls ?? [] {
      let arguments = rule.args ?? []
      let ops = arguments.map { strdup($0.op) }
      defer { for op in ops { free(op) } }
      let conditions = zip(arguments, ops).map { argument, op in
        crisp_seccomp_condition(index: argument.index, value: argument.value, value_two: argument.valueTwo ?? 0, op: op)
      }
      for name in rule.names {
        let added = conditions.withUnsafeBufferPointer { buffer in
          crisp_seccomp_add_rule(
            filter, name, rule.action, rule.errnoRet == nil ? 0 : 1, rule.errnoRet ?? 0, buffer.baseAddress, Int32(buffer.count), &message,
            message.count)
        }
        guard added == 0 else { throw failure() }
      }
    }
    var program: UnsafeMutableRawPointer?
    var instructions: Int32 = 0
    guard crisp_seccomp_export(filter, &program, &instructions, &message, message.count) == 0, let program else { throw failure() }
    defer { free(program) }
    // struct sock_filter is 8 bytes.
    return (Array(UnsafeRawBufferPointer(start: program, count: Int(instructions) * 8)), instructions)
  }
}

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
    let timeoutMilliseconds = timeout.map { duration -> Int32 in
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

/// The host's cgroup mounts: where each hierarchy named in /proc/<pid>/cgroup is mounted.
struct CgroupMounts: Sendable {
  /// v1 hierarchies by their options (controllers, `name=`), and the v2 mount.
  var v1: [(options: Set<Substring>, mountPoint: String)]
  var v2: String?

  /// Read once: cgroup mounts do not move while a node runs.
  static let current = CgroupMounts(MountInfo.current())

  static func parse(_ mountinfo: String) -> CgroupMounts { CgroupMounts(MountInfo.parse(mountinfo)) }

  init(_ mounts: [MountInfo]) {
    v1 = []
    for mount in mounts where mount.root == "/" {
      switch mount.fsType {
      case "cgroup2": if v2 == nil { v2 = mount.mountPoint }
      case "cgroup": v1.append((Set(mount.superOptions.split(separator: ",")), mount.mountPoint))
      default: continue
      }
    }
  }

  func mountPoint(hierarchy: Int, controllers: String) -> String? {
    if hierarchy == 0 && controllers.isEmpty { return v2 }
    let wanted = Set(controllers.split(separator: ","))
    guard !wanted.isEmpty else { return nil }
    return v1.first { wanted.isSubset(of: $0.options) }?.mountPoint
  }
}
