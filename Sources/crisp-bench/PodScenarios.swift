import CRIAPI
import CrispCore
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SPDY

/// Pod and container scenarios, run on every endpoint with their iterations interleaved.
struct PodBench: Sendable {
  let endpoints: [CRIEndpoint]
  let image: String
  let iterations: Int
  let report: Report

  typealias Runtime = Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>
  /// Where the pods' container logs go; removed when the run ends (CrispBench.run).
  static let logRoot = "/tmp/crisp-bench-logs-\(getpid())"

  func podConfig(_ name: String) -> Runtime_V1_PodSandboxConfig {
    .with {
      $0.metadata.name = name
      $0.metadata.namespace = "crisp-bench"
      $0.metadata.uid = UUID().uuidString
      $0.hostname = name
      $0.logDirectory = "\(PodBench.logRoot)/\($0.metadata.uid)"
      $0.linux.cgroupParent = "/crisp-bench"
    }
  }

  func containerConfig(_ name: String) -> Runtime_V1_ContainerConfig {
    .with {
      $0.metadata.name = name
      $0.image.image = image
      $0.command = ["/bin/sleep", "3600"]
      $0.logPath = "\(name).log"
    }
  }

  /// Measures `operation` on each endpoint, interleaved, `iterations` times; an endpoint that cannot do it
  /// is reported unsupported with its answer. The operation sets the sample: seconds, or a rate in `unit`.
  func measure(
    _ name: String, target: String? = nil, unit: String = "s", _ operation: @escaping @Sendable (Runtime, inout Double) async throws -> Void
  ) async {
    var results: [String: Samples] = Dictionary(uniqueKeysWithValues: endpoints.map { ($0.name, Samples(unit: unit)) })
    for _ in 0..<iterations {
      for endpoint in endpoints where results[endpoint.name]?.unsupported == nil {
        do {
          let seconds = try await endpoint.withClients { runtime, _ in
            var elapsed = 0.0
            try await operation(runtime, &elapsed)
            return elapsed
          }
          results[endpoint.name]?.values.append(seconds)
        } catch let error as RPCError {
          results[endpoint.name]?.unsupported = "\(error.code): \(error.message)"
        } catch {
          results[endpoint.name]?.unsupported = "\(error)"
        }
      }
    }
    report.add(name, target: target, results)
  }

  func prepareImage() async {
    for endpoint in endpoints {
      _ = try? await endpoint.withClients { _, images in try await images.pullImage(.with { $0.image.image = image }) }
    }
  }

  func sandbox() async {
    await measure("RunPodSandbox", target: "≤ 0.6") { runtime, elapsed in
      let config = podConfig("bench-pod")
      var id = ""
      elapsed = try await time { id = try await runtime.runPodSandbox(.with { $0.config = config }).podSandboxID }
      _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = id })
      _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = id })
    }
    await measure("StopPodSandbox + RemovePodSandbox", target: "≤ 0.6") { runtime, elapsed in
      let id = try await runtime.runPodSandbox(.with { $0.config = podConfig("bench-pod") }).podSandboxID
      elapsed = try await time {
        _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = id })
        _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = id })
      }
    }
  }

  func container() async {
    await measure("CreateContainer + StartContainer", target: "≤ 0.6") { runtime, elapsed in
      let config = podConfig("bench-ctr")
      let pod = try await runtime.runPodSandbox(.with { $0.config = config }).podSandboxID
      defer { Task { _ = try? await runtime.removePodSandbox(.with { $0.podSandboxID = pod }) } }
      elapsed = try await time {
        let id = try await runtime.createContainer(
          .with {
            $0.podSandboxID = pod; $0.config = containerConfig("c"); $0.sandboxConfig = config
          }
        ).containerID
        _ = try await runtime.startContainer(.with { $0.containerID = id })
      }
      _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = pod })
      _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = pod })
    }
    await measure("ExecSync (echo)", target: "≤ 0.8") { runtime, elapsed in
      let config = podConfig("bench-exec")
      let pod = try await runtime.runPodSandbox(.with { $0.config = config }).podSandboxID
      let id = try await runtime.createContainer(
        .with {
          $0.podSandboxID = pod; $0.config = containerConfig("c"); $0.sandboxConfig = config
        }
      ).containerID
      _ = try await runtime.startContainer(.with { $0.containerID = id })
      elapsed = try await time {
        _ = try await runtime.execSync(
          .with {
            $0.containerID = id; $0.cmd = ["/bin/echo", "hi"]; $0.timeout = 10
          })
      }
      _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = pod })
      _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = pod })
    }
  }

  /// 50 running containers (five pods of ten), then the list calls.
  func lists() async {
    var pods: [String: [String]] = [:]
    for endpoint in endpoints {
      pods[endpoint.name] =
        (try? await endpoint.withClients { runtime, _ in
          var ids: [String] = []
          for p in 0..<5 {
            let config = podConfig("bench-list-\(p)")
            let pod = try await runtime.runPodSandbox(.with { $0.config = config }).podSandboxID
            ids.append(pod)
            for c in 0..<10 {
              let id = try await runtime.createContainer(
                .with {
                  $0.podSandboxID = pod; $0.config = containerConfig("c\(c)"); $0.sandboxConfig = config
                }
              ).containerID
              _ = try await runtime.startContainer(.with { $0.containerID = id })
            }
          }
          return ids
        }) ?? []
    }
    // kubelet keeps one connection open for all its calls: the "open connection" rows time the call alone,
    // after a first call has set the connection up; the others include setting it up.
    await measure("ListContainers (50 running, open connection)", target: "≤ 0.8") { runtime, elapsed in
      _ = try await runtime.version(.init())
      elapsed = try await time { _ = try await runtime.listContainers(.init()) }
    }
    await measure("ListContainers (50 running, new connection)") { runtime, elapsed in
      elapsed = try await time { _ = try await runtime.listContainers(.init()) }
    }
    await steadyCalls(endpoints, report, "ListContainers (50 running)", target: "≤ 0.8") { _ = try await $0.listContainers(.init()) }
    await leanCalls(
      endpoints, report, "ListContainers (50 running)", target: "≤ 0.8", method: "/runtime.v1.RuntimeService/ListContainers",
      request: Runtime_V1_ListContainersRequest(), response: Runtime_V1_ListContainersResponse.self)
    await steadyCalls(endpoints, report, "ListPodSandbox (5 pods)") { _ = try await $0.listPodSandbox(.init()) }
    await leanCalls(
      endpoints, report, "ListPodSandbox (5 pods)", method: "/runtime.v1.RuntimeService/ListPodSandbox",
      request: Runtime_V1_ListPodSandboxRequest(), response: Runtime_V1_ListPodSandboxResponse.self)
    await measure("ListPodSandbox (5 pods, open connection)") { runtime, elapsed in
      _ = try await runtime.version(.init())
      elapsed = try await time { _ = try await runtime.listPodSandbox(.init()) }
    }
    await measure("Version (open connection)") { runtime, elapsed in
      _ = try await runtime.version(.init())
      elapsed = try await time { _ = try await runtime.version(.init()) }
    }
    await measure("Version (new connection)") { runtime, elapsed in
      elapsed = try await time { _ = try await runtime.version(.init()) }
    }
    await measure("ListContainerStats (50 running)", target: "≤ 0.5") { runtime, elapsed in
      elapsed = try await time { _ = try await runtime.listContainerStats(.init()) }
    }
    for endpoint in endpoints {
      let created = pods[endpoint.name] ?? []
      _ = try? await endpoint.withClients { runtime, _ in
        for pod in created {
          _ = try? await runtime.stopPodSandbox(.with { $0.podSandboxID = pod })
          _ = try? await runtime.removePodSandbox(.with { $0.podSandboxID = pod })
        }
      }
    }
  }

  /// Daemon memory with 20 pods of one container each, and what each pod costs in helper processes
  /// (shims, pause): their RSS summed over the new processes, divided by 20.
  func memoryWithPods() async {
    var daemonRSS: [String: Samples] = [:], perPod: [String: Samples] = [:]
    for endpoint in endpoints {
      var daemon = Samples(unit: "B"), pod = Samples(unit: "B")
      let before = Set(helperProcesses().keys)
      let ids: [String] =
        (try? await endpoint.withClients { runtime, _ -> [String] in
          var ids: [String] = []
          for p in 0..<20 {
            let config = podConfig("bench-mem-\(p)")
            let id = try await runtime.runPodSandbox(.with { $0.config = config }).podSandboxID
            ids.append(id)
            let c = try await runtime.createContainer(
              .with {
                $0.podSandboxID = id; $0.config = containerConfig("c"); $0.sandboxConfig = config
              }
            ).containerID
            _ = try await runtime.startContainer(.with { $0.containerID = c })
          }
          return ids
        }) ?? []
      try? await Task.sleep(for: .seconds(1))
      if let pid = endpoint.serverPID(), let m = memory(of: pid) { daemon.values.append(m.rss) }
      let helpers = helperProcesses().filter { !before.contains($0.key) }
      if ids.count == 20 {
        pod.values.append(helpers.values.reduce(0, +) / 20)
      } else {
        pod.unsupported = "could not start 20 pods"
        daemon.unsupported = pod.unsupported
      }
      daemonRSS[endpoint.name] = daemon
      perPod[endpoint.name] = pod
      _ = try? await endpoint.withClients { runtime, _ in
        for id in ids {
          _ = try? await runtime.stopPodSandbox(.with { $0.podSandboxID = id })
          _ = try? await runtime.removePodSandbox(.with { $0.podSandboxID = id })
        }
      }
    }
    report.add("daemon RSS with 20 pods", target: "crisp ≤ 32 MB", daemonRSS)
    report.add("per pod: pause + shims RSS", target: "crisp ≤ 3 MB", perPod)
  }

  /// Shim and pause processes by pid, with their RSS.
  func helperProcesses() -> [Int32: Double] {
    var result: [Int32: Double] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
      guard let pid = Int32(entry), let command = (try? FilePath.readText("/proc/\(pid)/comm")) ?? nil else { continue }
      let name = command.trimmingCharacters(in: .whitespacesAndNewlines)
      guard name.hasPrefix("crisp-shim") || name.hasPrefix("containerd-shim") || name == "pause" || name == "crisp-pause" else { continue }
      if let m = memory(of: pid) { result[pid] = m.rss }
    }
    return result
  }

  /// 20 RunPodSandbox calls at once: the time until all are done, and whether any failed.
  func concurrency() async {
    var results: [String: Samples] = [:]
    for endpoint in endpoints {
      var samples = Samples(unit: "s")
      do {
        let (seconds, ids) = try await endpoint.withClients { runtime, _ in
          var ids: [String] = []
          let seconds = try await time {
            ids = try await withThrowingTaskGroup(of: String.self) { group in
              for p in 0..<20 {
                group.addTask { try await runtime.runPodSandbox(.with { $0.config = podConfig("bench-par-\(p)") }).podSandboxID }
              }
              var all: [String] = []
              for try await id in group { all.append(id) }
              return all
            }
          }
          for id in ids {
            _ = try? await runtime.stopPodSandbox(.with { $0.podSandboxID = id })
            _ = try? await runtime.removePodSandbox(.with { $0.podSandboxID = id })
          }
          return (seconds, ids)
        }
        samples.values.append(seconds)
        if ids.count != 20 { samples.unsupported = "only \(ids.count) of 20 pods started" }
      } catch let error as RPCError {
        samples.unsupported = "\(error.code): \(error.message)"
      } catch {
        samples.unsupported = "\(error)"
      }
      results[endpoint.name] = samples
    }
    report.add("20 concurrent RunPodSandbox (all done)", target: "no errors", results)
  }
}

/// `exec-stream`: the streaming path kubectl exec takes. Time from the Exec RPC to the first stdout byte of
/// `echo` (URL, upgrade to SPDY, streams, runc exec), and the rate of `cat` of a 100 MB file through stdout.
extension PodBench {
  func execStream() async {
    await measure("Exec → first stdout byte (echo)") { runtime, elapsed in
      try await withRunningContainer(runtime, "bench-stream") { id in
        elapsed = try await time {
          let url = try await runtime.exec(
            .with {
              $0.containerID = id; $0.cmd = ["/bin/echo", "hi"]; $0.stdout = true
            }
          ).url
          try await onDedicatedThreadThrowing {
            let client = try SPDYClient(url: url, protocols: ["v4.channel.k8s.io"])
            guard client.upgraded else { throw SPDYClient.Failure.http(client.responseHead) }
            client.openStream("error")
            let stdout = client.openStream("stdout")
            try client.pump(until: "the first byte") { (client.byteCounts[stdout] ?? 0) > 0 }
          }
        }
      }
    }
    let size = 100 << 20
    await measure("exec stdout throughput (100 MB)", target: "crisp ≥ 200 MB/s", unit: "B/s") { runtime, rate in
      try await withRunningContainer(runtime, "bench-cat") { id in
        // `cat` of a 100 MB file made beforehand (outside the timing), as a user copying a file out would.
        _ = try await runtime.execSync(
          .with {
            $0.containerID = id; $0.cmd = ["/bin/dd", "if=/dev/zero", "of=/blob", "bs=1048576", "count=100"]; $0.timeout = 60
          })
        let url = try await runtime.exec(
          .with {
            $0.containerID = id; $0.cmd = ["/bin/cat", "/blob"]; $0.stdout = true
          }
        ).url
        let seconds = try await time {
          try await onDedicatedThreadThrowing {
            let client = try SPDYClient(url: url, protocols: ["v4.channel.k8s.io"])
            client.keepsData = false
            client.openStream("error")
            let stdout = client.openStream("stdout")
            try client.pump(until: "100 MB", timeout: 300) { client.finished.contains(stdout) }
            guard client.byteCounts[stdout] == size else { throw SPDYClient.Failure.http("got \(client.byteCounts[stdout] ?? 0) bytes of \(size)") }
          }
        }
        rate = Double(size) / seconds
      }
    }
  }

  /// A pod with one running `sleep` container for `body`, removed afterwards.
  func withRunningContainer(_ runtime: Runtime, _ name: String, _ body: (String) async throws -> Void) async throws {
    let config = podConfig(name)
    let pod = try await runtime.runPodSandbox(.with { $0.config = config }).podSandboxID
    do {
      let id = try await runtime.createContainer(
        .with {
          $0.podSandboxID = pod; $0.config = containerConfig("c"); $0.sandboxConfig = config
        }
      ).containerID
      _ = try await runtime.startContainer(.with { $0.containerID = id })
      try await body(id)
    } catch {
      _ = try? await runtime.stopPodSandbox(.with { $0.podSandboxID = pod })
      _ = try? await runtime.removePodSandbox(.with { $0.podSandboxID = pod })
      throw error
    }
    _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = pod })
    _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = pod })
  }
}

/// Runs blocking client work on a thread of its own, so the cooperative pool keeps serving.
func onDedicatedThreadThrowing(_ work: @escaping @Sendable () throws -> Void) async throws {
  let outcome: Result<Void, any Error> = await onDedicatedThread {
    do {
      try work()
      return .success(())
    } catch {
      return .failure(error)
    }
  }
  try outcome.get()
}
