import ArgumentParser
import CRIAPI
import CrispCore
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Images
import Logging
import Registry
import Config
import NIOPosix
import SwiftProtobuf
import Store
import OCI

/// `crisp-bench`: measures crisp (or any CRI runtime) and, with `--compare`, a second runtime in the same
/// run, interleaving their iterations so machine noise hits both alike. Prints a Markdown table as it goes
/// and writes JSON. Numbers are reported, never asserted.
@main
struct CrispBench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "crisp-bench",
    abstract: "Benchmark CRI runtimes side by side.",
    discussion: """
      Scenarios:
        pull      PullImage of each --image (content removed between iterations), per endpoint
        network   crisp's registry client vs curl on the same blobs of each --image (in-process, no CRI)
        unpack    crisp's layer extraction vs `tar -x` on the same layers of each --image
        memory    RSS and PSS of each endpoint's daemon, idle
        sandbox   RunPodSandbox; StopPodSandbox + RemovePodSandbox
        container CreateContainer + StartContainer; ExecSync (needs --container-image)
        list      ListContainers / ListPodSandbox / ListContainerStats with 50 running containers
        pods-memory  daemon RSS with 20 pods, and helper-process RSS per pod
        concurrency  20 RunPodSandbox at once
        exec-stream  Exec over SPDY: time to the first stdout byte, and 100 MB of stdout throughput
        calls     Version: 200 calls in a row on open connections, as kubelet's polling makes them
                  (steady-state cost per call; `list` has the same rows for ListContainers/ListPodSandbox)
        status    PodSandboxStatus, ContainerStatus, ImageStatus (plain and verbose, as critest's
                  benchmark asks) and ListImages: 200 calls each on an open connection
        imagefs   ImageFsInfo with the image store at 1×, 10× and 100× one image (needs --imagefs-repository)
        all       every scenario above
        node      a full node as kubelet drives it: --pods pods started 10 at a time, kubelet's polling for
                  --steady-seconds, teardown; CPU, memory, every call's p50/p99, errors, leftovers (not in all)
      deploy/bench.sh sets up a loopback registry, crisp and containerd, and runs this.
      """)

  @Option(help: "The runtime to measure.") var endpoint = "unix:///run/crisp/crisp.sock"
  @Option(help: "Its name in the report.") var name = "crisp"
  @Option(help: "A second runtime measured in the same run.") var compare: String?
  @Option(help: "Its name in the report.") var compareName = "containerd"
  @Option(help: "Iterations per operation.") var iterations = 5
  @Option(help: "Image references for pull/network/unpack (repeatable).") var image: [String] = []
  @Option(help: "Image for the pod and container scenarios (needs /bin/sleep and /bin/echo).") var containerImage: String?
  @Option(help: "Base URL of the registry holding --image, for network/unpack (http://127.0.0.1:5000).") var registry: String?
  @Option(help: "Repository of the imagefs scenario's images, tagged 1…count (127.0.0.1:5000/bench/fs).") var imagefsRepository: String?
  @Option(help: "How many imagefs images there are (the 100× size needs 100).") var imagefsCount = 100
  @Option(help: "Unpacked bytes of one imagefs image, for the report.") var imagefsBaseBytes = 100_000_000.0
  @Option(help: "Write the report as JSON here.") var json: String?
  @Option(help: "Write the Markdown table here.") var markdown: String?
  @Option(help: "Pods in the node scenario (1-\(NodeScenario.maxPods)).") var pods = 110
  @Option(help: "Seconds of kubelet's polling in the node scenario (1-\(NodeScenario.maxSteadySeconds)).") var steadySeconds = 60
  @Option(help: "The bench network's host-local data directory, for the node scenario's IP lease check.") var cniDataDir: String?
  @Argument(help: "Scenarios to run.") var scenarios: [String] = ["all"]

  func run() async throws {
    var endpoints = [CRIEndpoint(name: name, address: endpoint)]
    if let compare { endpoints.append(CRIEndpoint(name: compareName, address: compare)) }
    let everything = [
      "memory", "pull", "network", "unpack", "sandbox", "container", "status", "list", "pods-memory", "concurrency", "exec-stream", "calls",
    ]
    let selected = Set(scenarios.contains("all") ? everything : scenarios)
    // node and imagefs take minutes and gigabytes: only when named.
    let known = Set(everything + ["node", "imagefs"])
    if let unknown = selected.subtracting(known).first { throw ValidationError("unknown scenario \"\(unknown)\"") }
    let report = Report(sides: endpoints.map(\.name))
    emit(report.header)
    if selected.contains("memory") { await memoryScenario(endpoints, report) }
    if selected.contains("pull") { try await pullScenario(endpoints, report) }
    if selected.contains("calls") { await callsScenario(endpoints, report) }
    let podScenarios = ["sandbox", "container", "status", "list", "pods-memory", "concurrency", "exec-stream"].filter(selected.contains)
    if !podScenarios.isEmpty {
      guard let containerImage else { throw ValidationError("\(podScenarios.joined(separator: ", ")) need --container-image") }
      let pods = PodBench(endpoints: endpoints, image: containerImage, iterations: iterations, report: report)
      defer { try? FilePath.removeTree(PodBench.logRoot) }
      await pods.prepareImage()
      if selected.contains("sandbox") { await pods.sandbox() }
      if selected.contains("container") { await pods.container() }
      if selected.contains("status") { await pods.statusCalls() }
      if selected.contains("list") { await pods.lists() }
      if selected.contains("pods-memory") { await pods.memoryWithPods() }
      if selected.contains("concurrency") { await pods.concurrency() }
      if selected.contains("exec-stream") { await pods.execStream() }
    }
    if selected.contains("node") {
      guard let containerImage else { throw ValidationError("node needs --container-image") }
      guard (1...NodeScenario.maxPods).contains(pods), (1...NodeScenario.maxSteadySeconds).contains(steadySeconds) else {
        throw ValidationError("--pods must be 1-\(NodeScenario.maxPods) and --steady-seconds 1-\(NodeScenario.maxSteadySeconds)")
      }
      await PodBench(endpoints: endpoints, image: containerImage, iterations: 1, report: report).prepareImage()
      await NodeScenario(
        endpoints: endpoints, image: containerImage, pods: pods, steady: .seconds(steadySeconds), parallelism: 10, cniDataDir: cniDataDir,
        report: report
      ).run()
    }
    if selected.contains("network") || selected.contains("unpack") {
      guard let registry else { throw ValidationError("network and unpack need --registry") }
      try await NetworkBench(registry: registry, images: image, iterations: iterations).run(
        report, network: selected.contains("network"), unpack: selected.contains("unpack"))
    }
    if selected.contains("imagefs") {
      guard let imagefsRepository else { throw ValidationError("imagefs needs --imagefs-repository") }
      await ImageFsBench(
        endpoints: endpoints, repository: imagefsRepository, count: imagefsCount, baseBytes: imagefsBaseBytes, iterations: iterations,
        report: report
      ).run()
    }
    if let json { try report.json().write(to: URL(fileURLWithPath: json)) }
    if let markdown { try report.markdown.write(toFile: markdown, atomically: true, encoding: .utf8) }
  }

  private func memoryScenario(_ endpoints: [CRIEndpoint], _ report: Report) async {
    var rss: [String: Samples] = [:], pss: [String: Samples] = [:]
    for endpoint in endpoints {
      var r = Samples(unit: "B"), p = Samples(unit: "B")
      if let pid = endpoint.serverPID() {
        for _ in 0..<max(1, iterations) {
          if let m = memory(of: pid) {
            r.values.append(m.rss)
            p.values.append(m.pss)
          }
          try? await Task.sleep(for: .milliseconds(200))
        }
      } else {
        r.unsupported = "no process found listening on \(endpoint.socketPath)"
        p.unsupported = r.unsupported
      }
      rss[endpoint.name] = r
      pss[endpoint.name] = p
    }
    report.add("daemon RSS, idle", target: "crisp ≤ 22 MB", rss)
    report.add("daemon PSS, idle", pss)
  }

  /// Version, 200 calls on open connections, per endpoint.
  private func callsScenario(_ endpoints: [CRIEndpoint], _ report: Report) async {
    await steadyCalls(endpoints, report, "Version") { _ = try await $0.version(.init()) }
    await leanCalls(
      endpoints, report, "Version", method: "/runtime.v1.RuntimeService/Version", request: Runtime_V1_VersionRequest(),
      response: Runtime_V1_VersionResponse.self)
  }

  private func pullScenario(_ endpoints: [CRIEndpoint], _ report: Report) async throws {
    for reference in image {
      var results: [String: Samples] = Dictionary(uniqueKeysWithValues: endpoints.map { ($0.name, Samples(unit: "s")) })
      for _ in 0..<iterations {
        for endpoint in endpoints where results[endpoint.name]?.unsupported == nil {
          do {
            let seconds = try await endpoint.withClients { _, images in
              _ = try? await images.removeImage(.with { $0.image.image = reference })
              return try await time { _ = try await images.pullImage(.with { $0.image.image = reference }) }
            }
            results[endpoint.name]?.values.append(seconds)
          } catch let error as RPCError {
            results[endpoint.name]?.unsupported = "\(error.code): \(error.message)"
          }
        }
      }
      report.add("pull \(reference)", target: "≤ 0.6", results)
    }
  }
}

/// The network and unpack comparisons: crisp's own code against curl and tar on the same blobs.
struct NetworkBench {
  let registry: String
  let images: [String]
  let iterations: Int

  func run(_ report: Report, network: Bool, unpack: Bool) async throws {
    let scratch = "/tmp/crisp-bench-\(getpid())"
    try FilePath.makeDirectories(scratch, mode: 0o700)
    defer { try? FilePath.removeTree(scratch) }
    let store = try ContentStore(root: scratch + "/content")
    let client = RegistryClient(readTimeout: .seconds(60), logger: Logger(label: "bench"))
    do {
      try await measure(client, store, scratch, report, network: network, unpack: unpack)
    } catch {
      await client.shutdown()
      throw error
    }
    await client.shutdown()
  }

  private func measure(_ client: RegistryClient, _ store: ContentStore, _ scratch: String, _ report: Report, network: Bool, unpack: Bool) async throws
  {
    let endpoint = try RegistryEndpoint.direct(registry)
    for text in images {
      let reference = try ImageReference(parsing: text)
      let fetched = try await client.fetchManifest(image: reference, reference: reference.manifestReference, endpoints: [endpoint], credentials: nil)
      var manifest: ImageManifest
      switch try ManifestParser.parse(fetched.bytes, mediaType: fetched.mediaType, reference: text) {
      case .manifest(let m): manifest = m
      case .index(let index):
        let chosen = try ManifestParser.select(from: index, platform: .host, reference: text)
        let inner = try await client.fetchManifest(image: reference, reference: chosen.digest.description, endpoints: [endpoint], credentials: nil)
        guard case .manifest(let m) = try ManifestParser.parse(inner.bytes, mediaType: inner.mediaType, reference: text) else { continue }
        manifest = m
      }
      let total = Double(manifest.layers.reduce(0) { $0 + $1.size })
      if network {
        var crisp = Samples(unit: "B/s"), curl = Samples(unit: "B/s")
        for _ in 0..<iterations {
          for layer in manifest.layers { try? store.delete(sha256: layer.digest.hex) }
          let ours = try await time {
            try await withThrowingTaskGroup(of: Void.self) { group in
              for layer in manifest.layers {
                group.addTask {
                  try await client.fetchBlob(image: reference, descriptor: layer, endpoints: [endpoint], credentials: nil, into: store)
                }
              }
              try await group.waitForAll()
            }
          }
          crisp.values.append(total / ours)
          let urls = manifest.layers.map { "\(registry)/v2/\(reference.path)/blobs/\($0.digest)" }
          // One curl fetching the same blobs in parallel into files on the same disk, synced, as the content
          // store must (crisp also verifies each digest on the way).
          let curlDirectory = scratch + "/curl"
          try? FilePath.removeTree(curlDirectory)
          try FilePath.makeDirectories(curlDirectory, mode: 0o700)
          let theirs = try await time {
            let files = urls.indices.map { "\(curlDirectory)/blob\($0)" }
            let command =
              "curl -sf --parallel " + zip(urls, files).map { "-o '\($1)' '\($0)'" }.joined(separator: " ")
              + " && sync " + files.map { "'\($0)'" }.joined(separator: " ")
            _ = try shell(command)
          }
          try? FilePath.removeTree(curlDirectory)
          curl.values.append(total / theirs)
        }
        report.add(
          "download \(text) (\(Report.format(total, "B")))", better: "higher", target: "≥ 0.8", sides: ["crisp", "curl"],
          ["crisp": crisp, "curl": curl])
      }
      if unpack {
        for layer in manifest.layers where !store.contains(sha256: layer.digest.hex) {
          try await client.fetchBlob(image: reference, descriptor: layer, endpoints: [endpoint], credentials: nil, into: store)
        }
        var ours = Samples(unit: "B/s"), tar = Samples(unit: "B/s")
        var uncompressed = 0.0
        for _ in 0..<iterations {
          let target = scratch + "/unpack"
          try? FilePath.removeTree(target)
          try FilePath.makeDirectories(target, mode: 0o755)
          var bytes = 0.0
          let seconds = try await time {
            for layer in manifest.layers {
              guard let compression = MediaType.layerCompression(layer.mediaType) else { continue }
              let layerDirectory = "\(target)/\(layer.digest.hex.prefix(12))"
              try FilePath.makeDirectories(layerDirectory, mode: 0o755)
              _ = try LayerExtraction.extract(
                blob: store.path(sha256: layer.digest.hex), compression: compression, into: layerDirectory, whiteouts: .overlay, name: "layer")
              bytes += Double(DiskUsage.measure(layerDirectory).bytes)
            }
          }
          uncompressed = bytes
          ours.values.append(total / seconds)
          try? FilePath.removeTree(target)
          try FilePath.makeDirectories(target, mode: 0o755)
          let reference = try await time {
            for layer in manifest.layers {
              let layerDirectory = "\(target)/\(layer.digest.hex.prefix(12))"
              try FilePath.makeDirectories(layerDirectory, mode: 0o755)
              _ = try shell("tar -xf \(store.path(sha256: layer.digest.hex)) -C \(layerDirectory)")
            }
          }
          tar.values.append(total / reference)
        }
        try? FilePath.removeTree(scratch + "/unpack")
        report.add(
          "unpack \(text) (\(Report.format(total, "B")) compressed, \(Report.format(uncompressed, "B")) on disk)", better: "higher",
          sides: ["crisp", "tar -x"], ["crisp": ours, "tar -x": tar])
      }
    }
  }

  @discardableResult
  func shell(_ command: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    while process.isRunning { usleep(1000) }
    guard process.terminationStatus == 0 else { throw ValidationError("`\(command)` failed: \(String(decoding: data, as: UTF8.self))") }
    return String(decoding: data, as: UTF8.self)
  }
}

/// Each call timed alone, 200 in a row on warm connections per endpoint: what a poller such as kubelet pays
/// per call once its connection is set up (the single-call rows include first-call costs).
func steadyCalls(
  _ endpoints: [CRIEndpoint], _ report: Report, _ name: String, target: String? = nil,
  _ call: @escaping @Sendable (Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>) async throws -> Void
) async {
  var results: [String: Samples] = [:]
  for endpoint in endpoints {
    var samples = Samples(unit: "s")
    do {
      // Two connections of 100 calls each: containerd's server and grpc-swift's client part after about
      // 200 calls on one connection ("Stream unexpectedly closed"), which is not what is measured here.
      for _ in 0..<2 {
        samples.values += try await endpoint.withClients { runtime, _ in
          try await call(runtime)
          var values: [Double] = []
          for index in 0..<100 {
            do {
              values.append(try await time { try await call(runtime) })
            } catch {
              throw CallFailure(index: index, error: error)
            }
          }
          return values
        }
      }
    } catch {
      samples.unsupported = "\(error)"
    }
    results[endpoint.name] = samples
  }
  report.add("\(name), 200 calls on open connections", target: target, results)
}

struct CallFailure: Error, CustomStringConvertible {
  let index: Int
  let error: any Error
  var description: String { "call \(index + 2) on the connection failed: \(error)" }
}

/// Like ``steadyCalls``, through ``LeanGRPCClient``: 200 calls on one open connection, each timed alone, with
/// a client that adds almost nothing, so the rows show what the servers differ by.
func leanCalls<Response: SwiftProtobuf.Message>(
  _ endpoints: [CRIEndpoint], _ report: Report, _ name: String, target: String? = nil,
  method: String, request: some SwiftProtobuf.Message & Sendable, response: Response.Type
) async {
  await leanCalls(
    endpoints, report, name, target: target, method: method, requests: Dictionary(uniqueKeysWithValues: endpoints.map { ($0.name, request) }),
    response: response)
}

/// As above, with a request of its own for each endpoint (by name), for calls naming objects each runtime
/// created itself; an endpoint without a request is reported unsupported.
func leanCalls<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message>(
  _ endpoints: [CRIEndpoint], _ report: Report, _ name: String, target: String? = nil,
  method: String, requests: [String: Request], response: Response.Type
) async {
  var results: [String: Samples] = [:]
  for endpoint in endpoints {
    var samples = Samples(unit: "s")
    guard let request = requests[endpoint.name] else {
      samples.unsupported = "nothing to ask for (setting up the objects failed)"
      results[endpoint.name] = samples
      continue
    }
    do {
      let client = try await LeanGRPCClient.connect(unixSocket: endpoint.socketPath, group: MultiThreadedEventLoopGroup.singleton)
      do {
        // The first answer is decoded, untimed: the rows time real, well-formed answers.
        _ = try Response(serializedBytes: try await client.call(method, request))
        for index in 0..<leanCallCount {
          do {
            samples.values.append(try await time { _ = try await client.call(method, request) })
          } catch {
            throw CallFailure(index: index, error: error)
          }
        }
      } catch {
        await client.close()
        throw error
      }
      await client.close()
    } catch {
      samples.unsupported = "\(error)"
    }
    results[endpoint.name] = samples
  }
  report.add("\(name), \(leanCallCount) calls on an open connection, lean HTTP/2 client", target: target, results)
}

/// Calls per lean-client row: 200, or `CRISP_BENCH_CALLS` (1-1000000), for a run long enough to profile
/// the daemon under one kind of call.
let leanCallCount = countFromEnvironment("CRISP_BENCH_CALLS", default: 200)

/// A count from the environment (1-1000000), or `fallback` when unset or out of range.
func countFromEnvironment(_ name: String, default fallback: Int) -> Int {
  guard let text = ProcessInfo.processInfo.environment[name], let count = Int(text), (1...1_000_000).contains(count) else {
    return fallback
  }
  return count
}
