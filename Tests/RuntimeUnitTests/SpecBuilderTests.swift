import CDI
import Config
import CrispCore
import Registry
import Runtime
import Testing
import OCI

/// The OCI spec builder is a pure function: kubelet's rules, checked without root.
@Suite struct SpecBuilderTests {
  func image(entrypoint: [String]? = nil, cmd: [String]? = nil, env: [String]? = nil, workingDir: String? = nil, user: String? = nil)
    -> ImageConfig.Runtime
  {
    var runtime = ImageConfig.Runtime()
    runtime.entrypoint = entrypoint
    runtime.cmd = cmd
    runtime.env = env
    runtime.workingDir = workingDir
    runtime.user = user
    return runtime
  }

  @Test func commandAndArgsFollowKubeletRules() throws {
    let img = image(entrypoint: ["/entry"], cmd: ["default"])
    #expect(try SpecBuilder.arguments(config: .init(), image: img) == ["/entry", "default"])
    #expect(try SpecBuilder.arguments(config: .with { $0.args = ["a", "b"] }, image: img) == ["/entry", "a", "b"])
    #expect(try SpecBuilder.arguments(config: .with { $0.command = ["/cmd"] }, image: img) == ["/cmd"])
    #expect(
      try SpecBuilder.arguments(
        config: .with {
          $0.command = ["/cmd"]; $0.args = ["x"]
        }, image: img) == ["/cmd", "x"])
    #expect(try SpecBuilder.arguments(config: .init(), image: image(cmd: ["/only-cmd"])) == ["/only-cmd"])
    #expect(throws: CrispError.self) { try SpecBuilder.arguments(config: .init(), image: image()) }
  }

  @Test func environmentImageThenCRI() {
    let env = SpecBuilder.environment(image: ["PATH=/bin", "A=image", "B=image"], cri: [("A", "cri"), ("C", "new")])
    #expect(env == ["PATH=/bin", "A=cri", "B=image", "C=new"])
  }

  @Test func capabilitiesAddDropAndAll() throws {
    let defaults = try SpecBuilder.capabilities(.init())
    #expect(defaults.bounding == SpecBuilder.defaultCapabilities)
    #expect(defaults.ambient == [])
    let added = try SpecBuilder.capabilities(
      .with {
        $0.addCapabilities = ["NET_ADMIN"]; $0.dropCapabilities = ["CHOWN"]
      })
    #expect(added.effective?.contains("CAP_NET_ADMIN") == true)
    #expect(added.effective?.contains("CAP_CHOWN") == false)
    #expect(try SpecBuilder.capabilities(.with { $0.dropCapabilities = ["ALL"] }).effective == [])
    #expect(try SpecBuilder.capabilities(.with { $0.addCapabilities = ["ALL"] }, bounding: LinuxCapabilities.all).effective == LinuxCapabilities.all)
    #expect(
      try SpecBuilder.capabilities(
        .with {
          $0.dropCapabilities = ["ALL"]; $0.addCapabilities = ["kill"]
        }
      ).effective == ["CAP_KILL"])
    #expect(throws: CrispError.self) { try SpecBuilder.capabilities(.with { $0.addCapabilities = ["CAP_FLY"] }) }
  }

  /// ALL is crisp's own bounding set: a node whose root lacks CAP_SYS_RESOURCE cannot pass it on, and runc
  /// fails the start when asked to.
  @Test func addAllIsTheBoundingSet() throws {
    let bounding = LinuxCapabilities.all.filter { $0 != "CAP_SYS_RESOURCE" }
    let all = try SpecBuilder.capabilities(.with { $0.addCapabilities = ["ALL"] }, bounding: bounding)
    #expect(all.effective == bounding)
    #expect(all.bounding == bounding)
    #expect(all.permitted?.contains("CAP_SYS_RESOURCE") == false)
    let dropped = try SpecBuilder.capabilities(
      .with {
        $0.addCapabilities = ["ALL"]; $0.dropCapabilities = ["NET_RAW"]
      }, bounding: bounding)
    #expect(dropped.effective == bounding.filter { $0 != "CAP_NET_RAW" })
    do {
      _ = try SpecBuilder.capabilities(.with { $0.addCapabilities = ["SYS_RESOURCE"] }, bounding: bounding)
      Issue.record("a capability outside the bounding set was accepted")
    } catch {
      #expect(error.code == .failedPrecondition, "\(error)")
      #expect(error.message.contains("add_capabilities") && error.message.contains("CAP_SYS_RESOURCE"))
    }
    // The real bounding set of this process is what ALL means without a test's override.
    #expect(try SpecBuilder.capabilities(.with { $0.addCapabilities = ["ALL"] }).effective == LinuxCapabilities.bounding)
  }

  func sandbox() -> SpecBuilder.SandboxContext {
    var pod = PodSandboxSpec()
    pod.metadata = PodSandboxMetadata(name: "pod", uid: "uid", namespace: "ns")
    return .init(
      id: "sandbox", config: pod,
      pausePID: 4242,
      paths: .init(hostname: "/files/hostname", hosts: "/files/hosts", resolvConf: "/files/resolv.conf", shm: "/shm", netns: "/netns/x"))
  }

  @Test func containerJoinsThePodsNamespacesAndGetsItsFiles() throws {
    var config = ContainerSpec()
    config.metadata.name = "c"
    config.command = ["/bin/true"]
    config.workingDir = "/work"
    config.linux.resources.memoryLimitInBytes = 64 << 20
    config.linux.resources.cpuShares = 512
    config.linux.resources.cpuQuota = 50000
    config.linux.resources.cpuPeriod = 100000
    config.linux.securityContext.readonlyRootfs = true
    config.linux.securityContext.noNewPrivs = true
    let mounts = [
      SpecBuilder.ResolvedMount(hostPath: "/data", containerPath: "/etc/hosts", readonly: true, propagation: .private),
      SpecBuilder.ResolvedMount(hostPath: "/shared", containerPath: "/mnt", readonly: false, propagation: .bidirectional),
    ]
    let spec = try SpecBuilder.containerSpec(
      id: "c1", config: config, image: ImageConfig(config: nil, rootfs: .init(diffIDs: [])), imageName: "img", rootfs: "/rootfs",
      sandbox: sandbox(), user: .init(uid: 7, gid: 8, additionalGids: [9]), mounts: mounts, cgroupsPath: "/kubepods/c1", oomScoreAdj: 5)
    let namespaces = spec.linux?.namespaces ?? []
    #expect(namespaces.contains(.init("network", path: "/netns/x")))
    #expect(namespaces.contains(.init("ipc", path: "/proc/4242/ns/ipc")))
    #expect(namespaces.contains(.init("uts", path: "/proc/4242/ns/uts")))
    #expect(namespaces.contains(.init("pid", path: "/proc/4242/ns/pid")))
    #expect(spec.hostname == nil)
    #expect(spec.root?.path == "/rootfs")
    #expect(spec.root?.readonly == true)
    #expect(spec.process?.cwd == "/work")
    #expect(spec.process?.user.uid == 7 && spec.process?.user.additionalGids == [9])
    #expect(spec.process?.noNewPrivileges == true)
    #expect(spec.process?.oomScoreAdj == 5)
    #expect(spec.linux?.cgroupsPath == "/kubepods/c1")
    #expect(spec.linux?.resources?.memory?.limit == 64 << 20)
    #expect(spec.linux?.resources?.cpu?.shares == 512)
    #expect(spec.linux?.resources?.cpu?.quota == 50000)
    // The CRI's /etc/hosts mount replaces the sandbox's; hostname and resolv.conf stay.
    let destinations = spec.mounts.map(\.destination)
    #expect(destinations.filter { $0 == "/etc/hosts" }.count == 1)
    #expect(spec.mounts.first { $0.destination == "/etc/hosts" }?.source == "/data")
    #expect(spec.mounts.first { $0.destination == "/etc/resolv.conf" }?.source == "/files/resolv.conf")
    #expect(spec.mounts.first { $0.destination == "/dev/shm" }?.source == "/shm")
    #expect(spec.mounts.first { $0.destination == "/mnt" }?.options?.contains("rshared") == true)
    #expect(spec.linux?.rootfsPropagation == "rshared")
    #expect(spec.annotations?["io.kubernetes.cri.sandbox-id"] == "sandbox")
    #expect(spec.annotations?["io.kubernetes.cri.container-type"] == "container")
  }

  /// CDI edits come last (an env variable of the same name is replaced); with device ownership from the
  /// security context every node belongs to the container's user, except a CDI node whose spec names one.
  @Test func cdiEditsAndDeviceOwnership() throws {
    var config = ContainerSpec()
    config.command = ["/x"]
    config.envs = [.init(key: "SHARED", value: "cri")]
    var cdi = CDIEdits()
    cdi.env = ["SHARED=cdi", "VENDOR=1"]
    cdi.deviceNodes = [
      .init(device: .init(type: "c", path: "/dev/vendor", major: 1, minor: 3, uid: 0, gid: 0), access: "rw"),
      .init(device: .init(type: "c", path: "/dev/owned", major: 1, minor: 5, uid: 42, gid: 0), access: "rwm", specOwnsUID: true),
    ]
    let criDevice = (node: OCISpec.Device(type: "c", path: "/dev/cri", major: 10, minor: 200, uid: 0, gid: 0), rule: OCISpec.DeviceRule(allow: true))
    func build(ownership: Bool) throws -> OCISpec {
      try SpecBuilder.containerSpec(
        id: "c", config: config, image: ImageConfig(config: nil, rootfs: .init(diffIDs: [])), imageName: "i", rootfs: "/r", sandbox: sandbox(),
        user: .init(uid: 7, gid: 8), mounts: [], cgroupsPath: "/c", oomScoreAdj: nil, devices: [criDevice], cdi: cdi,
        deviceOwnershipFromSecurityContext: ownership)
    }
    let owned = try build(ownership: true)
    #expect(owned.process?.env?.contains("SHARED=cdi") == true)
    #expect(owned.process?.env?.contains("SHARED=cri") == false)
    #expect(owned.process?.env?.contains("VENDOR=1") == true)
    let devices = try #require(owned.linux?.devices)
    #expect(devices.map(\.path) == ["/dev/cri", "/dev/vendor", "/dev/owned"])
    #expect(devices.map(\.uid) == [7, 7, 42])
    #expect(devices.map(\.gid) == [8, 8, 8])
    #expect(owned.linux?.resources?.devices?.contains(.init(allow: true, type: "c", major: 1, minor: 3, access: "rw")) == true)
    let hosts = try build(ownership: false)
    #expect(hosts.linux?.devices?.map(\.uid) == [0, 0, 42])
  }

  @Test func containerPIDModesAndHostNetwork() throws {
    var context = sandbox()
    context.paths.netns = nil
    var config = ContainerSpec()
    config.command = ["/x"]
    config.linux.securityContext.namespaceOptions.pid = .container
    let spec = try SpecBuilder.containerSpec(
      id: "c", config: config, image: ImageConfig(config: nil, rootfs: .init(diffIDs: [])), imageName: "i", rootfs: "/r",
      sandbox: context, user: .init(uid: 0, gid: 0), mounts: [], cgroupsPath: "/c", oomScoreAdj: nil)
    let types = (spec.linux?.namespaces ?? []).map(\.type)
    #expect(!types.contains("network"))
    let pidNamespaces = (spec.linux?.namespaces ?? []).filter { $0 == .init("pid") }
    #expect(!pidNamespaces.isEmpty)
    config.linux.securityContext.namespaceOptions.pid = .node
    let host = try SpecBuilder.containerSpec(
      id: "c", config: config, image: ImageConfig(config: nil, rootfs: .init(diffIDs: [])), imageName: "i", rootfs: "/r",
      sandbox: context, user: .init(uid: 0, gid: 0), mounts: [], cgroupsPath: "/c", oomScoreAdj: nil)
    let hostTypes = (host.linux?.namespaces ?? []).map(\.type)
    #expect(!hostTypes.contains("pid"))
  }

  @Test func sandboxSpecRunsThePauseImage() throws {
    var runtime = ImageConfig.Runtime()
    runtime.entrypoint = ["/pause"]
    runtime.user = "65535:65535"
    var config = PodSandboxSpec()
    config.hostname = "web-0"
    config.linux.sysctls = ["net.ipv4.ip_local_port_range": "1024 65000"]
    let spec = try SpecBuilder.sandboxSpec(
      id: "s", config: config, image: ImageConfig(config: runtime, rootfs: .init(diffIDs: [])), rootfs: "/r",
      paths: .init(hostname: "h", hosts: "hs", resolvConf: "r", shm: "/shm", netns: "/netns/s"), cgroupsPath: "/pods/s", oomScoreAdj: -998)
    #expect(spec.process?.args == ["/pause"])
    #expect(spec.process?.user.uid == 65535)
    #expect(spec.hostname == "web-0")
    #expect(spec.linux?.sysctl?["net.ipv4.ip_local_port_range"] == "1024 65000")
    let networkNamespaces = (spec.linux?.namespaces ?? []).filter { $0 == .init("network", path: "/netns/s") }
    #expect(!networkNamespaces.isEmpty)
    #expect(spec.process?.oomScoreAdj == -998)
  }

  /// runc acts on some annotations (org.systemd.property.* become systemd unit properties, run.oci.* change
  /// runc's behaviour): only the handler's allow-listed pod and container annotations reach the spec, plus
  /// crisp's own io.kubernetes.cri.* ones, which a pod cannot override.
  @Test func annotationsAreAllowListed() throws {
    let hostile = [
      "org.systemd.property.CPUQuota": "1%", "run.oci.keep_original_groups": "1", "io.example.keep": "yes",
      "io.kubernetes.cri.container-type": "forged", "io.kubernetes.cri.other": "x",
    ]
    var podConfig = PodSandboxSpec()
    podConfig.metadata.name = "pod"
    podConfig.annotations = hostile
    var runtime = ImageConfig.Runtime()
    runtime.entrypoint = ["/pause"]
    let paths = SpecBuilder.SandboxPaths(hostname: "h", hosts: "hs", resolvConf: "r", shm: "/shm", netns: "/netns/s")
    let image = ImageConfig(config: runtime, rootfs: .init(diffIDs: []))
    let closed = try SpecBuilder.sandboxSpec(id: "s", config: podConfig, image: image, rootfs: "/r", paths: paths, cgroupsPath: "/p", oomScoreAdj: 0)
    let closedKeys = Set((closed.annotations ?? [:]).keys)
    #expect(closedKeys.allSatisfy { $0.hasPrefix("io.kubernetes.cri.") } && !closedKeys.contains("io.kubernetes.cri.other"))
    #expect(closed.annotations?["io.kubernetes.cri.container-type"] == "sandbox")
    let allowed = try AnnotationPatterns(["io.example.*"])
    let open = try SpecBuilder.sandboxSpec(
      id: "s", config: podConfig, image: image, rootfs: "/r", paths: paths, cgroupsPath: "/p", oomScoreAdj: 0, podAnnotations: allowed)
    #expect(open.annotations?["io.example.keep"] == "yes")
    #expect(open.annotations?["org.systemd.property.CPUQuota"] == nil && open.annotations?["run.oci.keep_original_groups"] == nil)

    var config = ContainerSpec()
    config.metadata.name = "c"
    config.command = ["/bin/true"]
    config.annotations = ["run.oci.hooks": "x", "io.example.container": "c", "team": "a", "io.kubernetes.cri.image-name": "forged"]
    var context = sandbox()
    context.config.annotations = hostile
    func container(_ pod: AnnotationPatterns, _ own: AnnotationPatterns) throws -> [String: String] {
      try SpecBuilder.containerSpec(
        id: "c1", config: config, image: ImageConfig(config: nil, rootfs: .init(diffIDs: [])), imageName: "img", rootfs: "/rootfs",
        sandbox: context, user: .init(uid: 0, gid: 0), mounts: [], cgroupsPath: "/c", oomScoreAdj: nil,
        podAnnotations: pod, containerAnnotations: own
      ).annotations ?? [:]
    }
    let none = try container(.none, .none)
    #expect(none.keys.allSatisfy { $0.hasPrefix("io.kubernetes.cri.") })
    #expect(none["io.kubernetes.cri.image-name"] == "img" && none["io.kubernetes.cri.container-type"] == "container")
    let some = try container(allowed, try AnnotationPatterns(["team", "io.kubernetes.cri.*"]))
    #expect(some["io.example.keep"] == "yes" && some["team"] == "a")
    #expect(some["io.example.container"] == nil && some["run.oci.hooks"] == nil && some["org.systemd.property.CPUQuota"] == nil)
    #expect(some["io.kubernetes.cri.image-name"] == "img")
  }

  @Test func cgroupPathsForBothDrivers() {
    let cgroupfs = Cgroups(driver: .cgroupfs)
    #expect(cgroupfs.path(parent: "/kubepods/burstable/podabc", id: "c1") == "/kubepods/burstable/podabc/c1")
    #expect(cgroupfs.path(parent: "", id: "c1") == "/crisp/c1")
    let systemd = Cgroups(driver: .systemd)
    #expect(systemd.path(parent: "kubepods-burstable-podabc.slice", id: "c1") == "kubepods-burstable-podabc.slice:crisp:c1")
    // OOM kills are read from the unit's directory, which systemd derives from the slice name.
    let directory = systemd.memoryDirectory(cgroupsPath: "kubepods-burstable-podabc.slice:crisp:c1") ?? ""
    #expect(directory.hasSuffix("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podabc.slice/crisp-c1.scope"))
  }
}

@Suite struct ContainerEventBusTests {
  @Test func aSubscriberThatFallsBehindIsCutOffWithoutSlowingOthers() async throws {
    let bus = ContainerEventBus(capacity: 4)
    let slow = bus.subscribe()
    let fast = bus.subscribe()
    let fastReader = Task { () -> Int in
      var count = 0
      for try await _ in fast {
        count += 1
        if count == 10 { break }
      }
      return count
    }
    for index in 0..<10 {
      bus.publish(ContainerEvent(containerID: "c\(index)", sandboxID: "s", kind: .created))
      try await Task.sleep(for: .milliseconds(5))
    }
    #expect(try await fastReader.value == 10)
    var received = 0
    do {
      for try await _ in slow { received += 1 }
      Issue.record("the slow subscriber was not cut off")
    } catch let error as CrispError {
      #expect(error.code == .resourceExhausted)
    }
    #expect(received == 4)
    // The slow one is gone; the fast one (its stream still held here) remains subscribed.
    #expect(bus.subscriberCount == 1)
  }
}
