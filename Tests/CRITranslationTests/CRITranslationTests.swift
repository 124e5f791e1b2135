import CRIAPI
@testable import CRIServer
import CrispCore
@testable import Runtime
import Store
import SwiftProtobuf
import Testing

/// The CRIServer/Runtime boundary: CRI requests become Runtime's types after the required-field checks,
/// and what statuses report comes back as kubelet sent it.
@Suite struct CRITranslationTests {
  static func pod() -> Runtime_V1_PodSandboxConfig {
    .with {
      $0.metadata = .with {
        $0.name = "web"; $0.namespace = "default"; $0.uid = "u1"; $0.attempt = 2
      }
      $0.hostname = "web-0"
      $0.logDirectory = "/var/log/pods/x"
      $0.dnsConfig = .with {
        $0.servers = ["10.0.0.10"]; $0.searches = ["svc"]; $0.options = ["ndots:5"]
      }
      $0.portMappings = [
        .with {
          $0.protocol = .udp; $0.containerPort = 53; $0.hostPort = 5353; $0.hostIp = "127.0.0.1"
        },
        .with {
          $0.protocol = .UNRECOGNIZED(9); $0.containerPort = 80
        },
      ]
      $0.labels = ["app": "web"]
      $0.annotations = ["a": "b"]
      $0.linux.cgroupParent = "/kubepods/pod1"
      $0.linux.sysctls = ["net.ipv4.ip_forward": "1"]
      $0.linux.securityContext.namespaceOptions = .with {
        $0.network = .pod
        $0.pid = .container
        $0.ipc = .UNRECOGNIZED(7)
        $0.usernsOptions = .with {
          $0.mode = .pod;
          $0.uids = [
            .with {
              $0.hostID = 65536; $0.length = 65536
            }
          ]
        }
      }
      $0.linux.securityContext.seccomp = .with {
        $0.profileType = .localhost; $0.localhostRef = "/p.json"
      }
      $0.linux.securityContext.runAsUser = .with { $0.value = 0 }
    }
  }

  @Test func aPodConfigKeepsWhatRuntimeUses() throws {
    let spec = try PodSandboxSpec.validated(.with { $0.config = Self.pod() })
    #expect(spec.metadata == PodSandboxMetadata(name: "web", uid: "u1", namespace: "default", attempt: 2))
    #expect(spec.dnsConfig == DNSConfig(servers: ["10.0.0.10"], searches: ["svc"], options: ["ndots:5"]))
    #expect(spec.portMappings.map(\.proto) == ["udp", "tcp"])
    #expect(spec.linux.securityContext.namespaceOptions.ipc == .unrecognized(7))
    #expect(spec.linux.securityContext.seccomp == SecurityProfile(kind: .localhost, localhostRef: "/p.json"))
    #expect(spec.linux.securityContext.apparmor == nil)
    // Set to 0 is not unset: 0 is root.
    #expect(spec.linux.securityContext.runAsUser == 0 && spec.linux.securityContext.runAsGroup == nil)
    #expect(PodSandboxSpec(Runtime_V1_PodSandboxConfig()).dnsConfig == nil)
    // PodSandboxStatus reports the namespace options and metadata as sent.
    #expect(spec.linux.securityContext.namespaceOptions.cri == Self.pod().linux.securityContext.namespaceOptions)
    #expect(spec.metadata.cri == Self.pod().metadata)
  }

  @Test func requiredPodFieldsAreNamed() {
    func message(_ request: Runtime_V1_RunPodSandboxRequest) -> String? {
      do {
        _ = try PodSandboxSpec.validated(request)
        return nil
      } catch {
        return error.code == .invalidArgument ? error.message : "\(error.code): \(error.message)"
      }
    }
    #expect(message(.init()) == "config is required")
    for field in ["name", "namespace", "uid"] {
      var config = Self.pod()
      switch field {
      case "name": config.metadata.name = ""
      case "namespace": config.metadata.namespace = ""
      default: config.metadata.uid = ""
      }
      #expect(message(.with { $0.config = config }) == "config.metadata.\(field) is required")
    }
  }

  /// A cgroup parent that climbs out of the cgroup filesystem (stats would read, and runc would place the
  /// pod, wherever it points) is refused naming the field; kubelet's forms pass.
  @Test func cgroupParentsThatClimbOutAreRefused() {
    func message(_ parent: String) -> String? {
      var config = Self.pod()
      config.linux.cgroupParent = parent
      do {
        _ = try PodSandboxSpec.validated(.with { $0.config = config })
        return nil
      } catch {
        return error.code == .invalidArgument ? error.message : "\(error.code): \(error.message)"
      }
    }
    for good in ["", "/kubepods/burstable/pod1", "kubepods-burstable-pod1.slice", "/kubepods.slice/kubepods-pod1.slice", "a..b/c."] {
      #expect(message(good) == nil, "\(good)")
    }
    for bad in ["/../../var/lib/kubelet", "/kubepods/../..", "a:/../../tmp/x:y", "./x", "/kubepods/.", "x:..:y"] {
      #expect(message(bad)?.hasPrefix("config.linux.cgroup_parent") == true, "\(bad)")
    }
    #expect(message("/a\u{0}b") == "config.linux.cgroup_parent contains a NUL byte")
    #expect(message("/" + String(repeating: "a", count: 4096)) == "config.linux.cgroup_parent is longer than 4096 bytes")
  }

  static func container() -> Runtime_V1_ContainerConfig {
    .with {
      $0.metadata = .with {
        $0.name = "app"; $0.attempt = 1
      }
      $0.image = .with {
        $0.image = "busybox"; $0.annotations = ["x": "y"]; $0.userSpecifiedImage = "busybox:latest"; $0.runtimeHandler = "runc"
      }
      $0.command = ["sh"]
      $0.envs = [
        .with {
          $0.key = "A"; $0.value = "1"
        }
      ]
      $0.mounts = [
        .with {
          $0.containerPath = "/data"; $0.hostPath = "/srv"; $0.propagation = .propagationHostToContainer; $0.recursiveReadOnly = true
        }
      ]
      $0.devices = [
        .with {
          $0.containerPath = "/dev/x"; $0.hostPath = "/dev/null"; $0.permissions = "r"
        }
      ]
      $0.cdiDevices = [.with { $0.name = "vendor.com/gpu=0" }, .with { $0.name = "vendor.com/gpu=all" }]
      $0.linux.resources = .with {
        $0.cpuQuota = -1; $0.memoryLimitInBytes = 1 << 30;
        $0.hugepageLimits = [
          .with {
            $0.pageSize = "2MB"; $0.limit = 4096
          }
        ]; $0.unified = ["memory.high": "1"]
      }
      $0.linux.securityContext = .with {
        $0.capabilities = .with { $0.addCapabilities = ["NET_ADMIN"] }
        $0.runAsGroup = .with { $0.value = 5 }
        $0.supplementalGroupsPolicy = .strict
        $0.namespaceOptions.pid = .target
        $0.namespaceOptions.targetID = "abc"
      }
      $0.stopSignal = .sigusr1
    }
  }

  @Test func aContainerConfigKeepsWhatRuntimeUses() throws {
    let cri = Self.container()
    let spec = try ContainerSpec.validated(
      .with {
        $0.podSandboxID = "p"; $0.config = cri
      })
    #expect(spec.metadata.cri == cri.metadata)
    #expect(spec.image.cri == cri.image)
    #expect(spec.envs == [EnvironmentVariable(key: "A", value: "1")])
    #expect(spec.mounts.first?.propagation == .hostToContainer && spec.mounts.first?.propagation.cri == .propagationHostToContainer)
    #expect(spec.devices == [DeviceRequest(containerPath: "/dev/x", hostPath: "/dev/null", permissions: "r")])
    #expect(spec.cdiDevices == ["vendor.com/gpu=0", "vendor.com/gpu=all"])
    #expect(spec.linux.resources.cri == cri.linux.resources)
    #expect(spec.linux.securityContext.mergeImageGroups == false)
    #expect(spec.linux.securityContext.runAsUser == nil && spec.linux.securityContext.runAsGroup == 5)
    #expect(spec.linux.securityContext.namespaceOptions.targetID == "abc")
    #expect(spec.stopSignal == .named("SIGUSR1"))
  }

  /// ContainerStatus reports the stop signal as sent, for every signal the CRI names.
  @Test func everyStopSignalComesBackAsSent() {
    for signal in Runtime_V1_Signal.allCases {
      #expect(StopSignal(signal).cri == signal, "\(signal)")
    }
    #expect(StopSignal(.UNRECOGNIZED(99)).cri == .UNRECOGNIZED(99))
  }

  /// Each CRI signal becomes a name the runtime sends, and the name it reports maps back to the same signal
  /// number (SIGCLD, SIGIOT and SIGPOLL are reported by their usual names).
  @Test func everyCRISignalIsOneTheRuntimeSends() {
    for signal in Runtime_V1_Signal.allCases where signal != .runtimeDefault {
      guard case .named(let name) = StopSignal(signal), let canonical = SignalNames.canonicalName(name) else {
        Issue.record("\(signal): no signal name")
        continue
      }
      guard case .named(let reported) = StopSignal(StopSignal.cri(named: canonical)) else {
        Issue.record("\(signal): reported as \(StopSignal.cri(named: canonical))")
        continue
      }
      #expect(SignalNames.number(reported) == SignalNames.number(name), "\(signal)")
    }
    #expect(StopSignal.cri(named: "SIGRTMIN+3") == .sigrtminplus3)
    #expect(StopSignal.cri(named: "SIGRTMAX-1") == .sigrtmaxminus1)
  }

  /// ContainerStatus reports the signal stopping sends and the process's user, not only what kubelet asked.
  @Test func containerStatusReportsTheEffectiveStopSignalAndUser() {
    let record = ContainerRecord(
      id: "c1", sandboxID: "p1", name: "c", attempt: 0, state: .running, imageRef: "img", imageID: "sha256:1", createdAt: 1, config: [],
      logPath: "")
    var view = RuntimeManager.ContainerView(
      record: record, config: ContainerSpec(), mounts: [], user: .init(uid: 1000, gid: 2000, additionalGids: [3000]), stopSignal: "SIGINT")
    var status = RuntimeServiceHandler.status(view)
    #expect(status.stopSignal == .sigint)
    #expect(status.user.linux.uid == 1000)
    #expect(status.user.linux.gid == 2000)
    #expect(status.user.linux.supplementalGroups == [2000, 3000])
    // A container recorded before crisp kept its user: no user rather than a made-up one.
    view.user = nil
    view.stopSignal = "SIGTERM"
    status = RuntimeServiceHandler.status(view)
    #expect(!status.hasUser)
    #expect(status.stopSignal == .sigterm)
  }

  @Test func requiredContainerFieldsAreNamed() {
    func message(_ body: (inout Runtime_V1_CreateContainerRequest) -> Void) -> String? {
      var request = Runtime_V1_CreateContainerRequest.with {
        $0.podSandboxID = "p"; $0.config = Self.container()
      }
      body(&request)
      do {
        _ = try ContainerSpec.validated(request)
        return nil
      } catch {
        return error.message
      }
    }
    #expect(message { _ in } == nil)
    #expect(message { $0.podSandboxID = "" } == "pod_sandbox_id is required")
    #expect(message { $0.clearConfig() } == "config is required")
    #expect(message { $0.config.metadata.name = "" } == "config.metadata.name is required")
    #expect(message { $0.config.image.image = "" } == "config.image.image is required")
  }

  /// A stats field is set exactly when Runtime has a reading: kubelet tells "0" from "not measured".
  @Test func statsSetOnlyWhatWasMeasured() {
    let record = ContainerRecord(
      id: "c1", sandboxID: "p1", name: "app", attempt: 0, state: .running, imageRef: "busybox", imageID: "sha256:1", createdAt: 1, config: [],
      logPath: "")
    var usage = ContainerUsage(container: .init(record: record, config: ContainerSpec(), mounts: [], user: nil, stopSignal: "SIGTERM"))
    var stats = CRIStats.container(usage)
    #expect(!stats.hasCpu && !stats.hasMemory && !stats.hasSwap && !stats.hasWritableLayer && stats.attributes.id == "c1")
    var cpu = CPUUsage()
    cpu.timestamp = 5
    cpu.coreNanoseconds = 0
    usage.cpu = cpu
    usage.memory = MemoryUsage()
    usage.swap = SwapUsage(timestamp: 5, usageBytes: 3, availableBytes: nil)
    stats = CRIStats.container(usage)
    #expect(stats.hasCpu && stats.cpu.hasUsageCoreNanoSeconds && stats.cpu.usageCoreNanoSeconds.value == 0 && !stats.cpu.hasUsageNanoCores)
    #expect(stats.hasMemory && !stats.memory.hasUsageBytes)
    #expect(stats.swap.swapUsageBytes.value == 3 && !stats.swap.hasSwapAvailableBytes)
  }

  @Test func metricsCarryTheirType() {
    var samples = PodMetricSamples(podSandboxID: "p")
    samples.metrics = [MetricSample(metric: .cpuUsageSeconds, timestamp: 1, labelValues: ["a"], value: 2)]
    samples.containers = [
      ContainerMetricSamples(containerID: "c", metrics: [MetricSample(metric: .memoryRSS, timestamp: 1, labelValues: [], value: 3)])
    ]
    let cri = CRIStats.metrics(samples)
    #expect(cri.metrics.first?.metricType == .counter && cri.metrics.first?.value.value == 2)
    #expect(cri.containerMetrics.first?.metrics.first?.metricType == .gauge)
    #expect(CRIStats.descriptors.map(\.name) == PodMetric.allCases.map(\.rawValue))
  }

  @Test func recordedResourcesReadBack() throws {
    let codec = CRIRecordCodec()
    let resources = ContainerResources(Self.container().linux.resources)
    #expect(try codec.decodeResources(try codec.encode(resources)) == resources)
    #expect(try codec.decodeContainerSpec(try Self.container().serializedBytes()) == ContainerSpec(Self.container()))
    #expect(try codec.decodeSandboxSpec(try Self.pod().serializedBytes()) == PodSandboxSpec(Self.pod()))
  }
}
