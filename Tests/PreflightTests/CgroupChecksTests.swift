import Config
import CrispCore
import Foundation
@testable import Preflight
import Registry
import Testing
import TestSupport

/// The checks whose inputs a test can lay out without root: cgroup layouts from mountinfo text (a v2 tree
/// in a temporary directory, v1, hybrid), the cgroup driver against PID 1, and registry TLS files.
@Suite struct CgroupChecksTests {
  static func line(_ id: Int, _ mountPoint: String, _ type: String, _ options: String) -> String {
    "\(id) 1 0:\(id) / \(mountPoint) rw,relatime shared:\(id) - \(type) \(type) \(options)"
  }

  @Test func v2ControllersAndDelegation() throws {
    let root = try TestEnvironment.temporaryDirectory("crisp-cg")
    defer { try? FileManager.default.removeItem(atPath: root) }
    try "cpuset cpu io memory hugetlb pids".write(toFile: root + "/cgroup.controllers", atomically: true, encoding: .utf8)
    try "cpu memory".write(toFile: root + "/cgroup.subtree_control", atomically: true, encoding: .utf8)
    var checks = CgroupChecks(config: CrispConfig())
    checks.mounts = MountInfo.parse(Self.line(30, root, "cgroup2", "rw"))
    #expect(checks.layout == .v2)
    #expect(checks.version().status == .ok)
    let undelegated = checks.controllers()
    #expect(undelegated.status == .warn)
    #expect(undelegated.message.contains("cgroup.subtree_control: cpuset, pids, io"), "\(undelegated.message)")

    try "cpuset cpu io memory pids".write(toFile: root + "/cgroup.subtree_control", atomically: true, encoding: .utf8)
    #expect(checks.controllers().status == .ok)
    try "cpu io".write(toFile: root + "/cgroup.controllers", atomically: true, encoding: .utf8)
    let lacking = checks.controllers()
    #expect(lacking.status == .fail)
    #expect(lacking.message.contains("lacks cpuset, memory, pids"), "\(lacking.message)")
  }

  @Test func v1AndHybridLayouts() {
    let v1 = ["cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer"].enumerated().map { index, name in
      Self.line(40 + index, "/sys/fs/cgroup/\(name)", "cgroup", "rw,\(name)")
    }
    var checks = CgroupChecks(config: CrispConfig())
    checks.mounts = MountInfo.parse(v1.joined(separator: "\n"))
    checks.procCgroups =
      "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t1\t1\t1\nblkio\t0\t1\t1\n"
      + ["cpuacct", "cpuset", "memory", "pids", "devices", "freezer"].map { "\($0)\t2\t1\t1" }.joined(separator: "\n")
    #expect(checks.layout == .v1)
    let missingBlkio = checks.controllers()
    #expect(missingBlkio.status == .fail)
    #expect(missingBlkio.message.contains("not mounted: blkio"), "\(missingBlkio.message)")

    checks.mounts = MountInfo.parse((v1 + [Self.line(50, "/sys/fs/cgroup/unified", "cgroup2", "rw")]).joined(separator: "\n"))
    #expect(checks.layout == .hybrid)
    #expect(checks.version().message.hasPrefix("hybrid"))
    checks.mounts = []
    #expect(checks.version().status == .fail)
  }

  @Test func driverAgainstPID1() {
    var config = CrispConfig()
    config.cgroupDriver = .systemd
    var checks = CgroupChecks(config: config)
    checks.pid1IsSystemd = false
    #expect(checks.driver().status == .fail)
    checks.pid1IsSystemd = true
    #expect(checks.driver().status == .ok)
    checks.config.cgroupDriver = .cgroupfs
    #expect(checks.driver().status == .warn)
    checks.config.cgroupDriver = .auto
    #expect(checks.driver().message.hasPrefix("systemd"))
  }

  /// The files hosts.toml names, loaded as a pull loads them: missing, not PEM, or fine.
  @Test func registryTLSFiles() throws {
    let directory = try TestEnvironment.temporaryDirectory("crisp-tls")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try "not a certificate".write(toFile: directory + "/ca.pem", atomically: true, encoding: .utf8)
    var settings = HostsFile.HostSettings()
    settings.caFiles = [directory + "/ca.pem", directory + "/absent.pem"]
    settings.clientPairs = [.init(certificate: directory + "/absent-client.pem", key: "")]
    #expect(
      RegistryTLSFiles.problems(settings) == [
        "CA file \(directory)/ca.pem holds no PEM certificate", "CA file \(directory)/absent.pem: No such file or directory",
        "client certificate \(directory)/absent-client.pem: No such file or directory",
      ])
    #expect(RegistryTLSFiles.problems(HostsFile.HostSettings()).isEmpty)
  }
}
