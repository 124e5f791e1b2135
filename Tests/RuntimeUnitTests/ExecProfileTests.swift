@testable import Runtime
import Testing
import OCI

/// What crisp's own exec applies, read from OCI specs, and the seccomp filters it compiles.
@Suite struct ExecProfileTests {
  @Test func theProfileCarriesTheSpecsProcess() throws {
    var spec = OCISpec()
    var process = OCISpec.Process()
    process.env = ["A=1", "PATH=/custom/bin:/bin"]
    process.cwd = "/work"
    process.user.uid = 1000
    process.user.gid = 2000
    process.user.umask = 0o027
    process.user.additionalGids = [3000]
    var capabilities = OCISpec.Capabilities(all: [])
    capabilities.bounding = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]
    capabilities.effective = ["CAP_NET_BIND_SERVICE"]
    capabilities.inheritable = []
    capabilities.permitted = ["CAP_NET_BIND_SERVICE"]
    capabilities.ambient = ["CAP_NOT_A_CAPABILITY"]
    process.capabilities = capabilities
    process.rlimits = [.init(type: "RLIMIT_NOFILE", hard: 1024, soft: 512)]
    process.noNewPrivileges = true
    process.oomScoreAdj = 500
    spec.process = process
    var linux = OCISpec.Linux()
    linux.namespaces = [.init("pid"), .init("mount"), .init("network", path: "/run/netns/x")]
    linux.seccomp = SeccompPolicy.runtimeDefault(capabilities: [])
    spec.linux = linux
    let profile = try ExecProfile.make(spec)
    #expect(profile.namespaces == 0x2000_0000 | 0x0002_0000 | 0x4000_0000)
    #expect(profile.searchPath == "/custom/bin:/bin")
    #expect(profile.cwd == "/work")
    #expect(profile.uid == 1000 && profile.gid == 2000 && profile.groups == [3000] && profile.umask == 0o027)
    #expect(profile.bounding == 1 | 1 << 10)
    #expect(profile.effective == 1 << 10 && profile.permitted == 1 << 10 && profile.inheritable == 0)
    #expect(profile.ambient == 0, "unknown capability names are left out")
    #expect(profile.rlimits.count == 1 && profile.rlimits[0].resource == 7 && profile.rlimits[0].soft == 512)
    #expect(profile.noNewPrivileges && profile.oomScoreAdj == 500)
    #expect(profile.filterInstructions > 10 && profile.filter.count == Int(profile.filterInstructions) * 8)
  }

  @Test func whatOnlyTheOCIRuntimeAppliesSendsExecThroughIt() {
    func unsupported(_ edit: (inout OCISpec) -> Void) -> String? {
      var spec = OCISpec()
      spec.process = OCISpec.Process()
      spec.linux = OCISpec.Linux()
      edit(&spec)
      do {
        _ = try ExecProfile.make(spec)
        return nil
      } catch {
        return error.reason
      }
    }
    #expect(unsupported { _ in } == nil)
    #expect(unsupported { $0.process?.apparmorProfile = "crisp-default" } == "AppArmor profile")
    #expect(unsupported { $0.process?.selinuxLabel = "system_u:system_r:container_t:s0" } == "SELinux label")
    #expect(unsupported { $0.linux?.namespaces = [.init("bogus")] } == "namespace bogus")
    #expect(unsupported { $0.process?.rlimits = [.init(type: "RLIMIT_BOGUS", hard: 1, soft: 1)] } == "rlimit RLIMIT_BOGUS")
    let notify = unsupported {
      $0.linux?.seccomp = .init(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["mkdir"], action: "SCMP_ACT_NOTIFY")])
    }
    #expect(notify?.contains("SCMP_ACT_NOTIFY") == true, "\(notify ?? "")")
    #expect(unsupported { $0.linux?.seccomp = .init(defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_NEW_LISTENER"]) } != nil)
  }

  /// Calls numbered past every call the profile names answer ENOSYS (a stub in front of libseccomp's
  /// program), unless unknown calls are allowed anyway.
  @Test func theENOSYSStubFrontsDenyByDefaultFilters() throws {
    let deny = try SeccompCompiler.compile(
      .init(
        defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1, architectures: ["SCMP_ARCH_X86_64"],
        syscalls: [.init(names: ["read", "write"], action: "SCMP_ACT_ALLOW")]))
    // BPF_LD|BPF_W|BPF_ABS (0x20) of offset 4 (the architecture) comes first.
    #expect(deny.program[0] == 0x20 && deny.program[4] == 4)
    // The stub's return: SECCOMP_RET_ERRNO | ENOSYS.
    let words = stride(from: 0, to: deny.program.count, by: 8).map { offset in
      (
        UInt16(deny.program[offset]) | UInt16(deny.program[offset + 1]) << 8,
        UInt32(deny.program[offset + 4]) | UInt32(deny.program[offset + 5]) << 8 | UInt32(deny.program[offset + 6]) << 16 | UInt32(
          deny.program[offset + 7]) << 24
      )
    }
    #expect(words.contains { $0.0 == 0x06 && $0.1 == 0x0005_0026 })
    // The highest call named is write (1): the stub compares against it.
    #expect(words.contains { $0.0 == 0x25 && $0.1 == 1 })
    let allow = try SeccompCompiler.compile(.init(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["mkdir"], action: "SCMP_ACT_ERRNO")]))
    #expect(
      allow.program[0] != 0x20 || allow.program[4] != 4
        || !stride(from: 0, to: allow.program.count, by: 8).contains { allow.program[$0] == 0x06 && allow.program[$0 + 4] == 0x26 })
  }

  @Test func cgroupMountsFromMountinfo() {
    let mounts = CgroupMounts.parse(
      """
      30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
      31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
      32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
      33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
      34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
      40 22 0:29 /kubepods /mnt/elsewhere rw - cgroup cgroup rw,cpu,cpuacct
      """)
    #expect(mounts.mountPoint(hierarchy: 0, controllers: "") == "/sys/fs/cgroup/unified")
    #expect(mounts.mountPoint(hierarchy: 1, controllers: "name=systemd") == "/sys/fs/cgroup/systemd")
    #expect(mounts.mountPoint(hierarchy: 4, controllers: "cpu,cpuacct") == "/sys/fs/cgroup/cpu,cpuacct")
    #expect(mounts.mountPoint(hierarchy: 5, controllers: "memory") == "/sys/fs/cgroup/memory")
    #expect(mounts.mountPoint(hierarchy: 6, controllers: "pids") == nil)
  }
}
