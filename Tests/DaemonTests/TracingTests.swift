import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// OpenTelemetry tracing against the real daemon: an OTLP receiver of the test's own (``OTLPReceiver``)
/// stands in for a collector. On, every CRI call is a server span whose parent is the `traceparent`
/// kubelet sent, with the plugin, runc and shim work below it as child spans; off (the default), the daemon
/// installs no tracer, so nothing is sent even where the OpenTelemetry environment variables point at a
/// receiver.
@Suite(.serialized) struct TracingTests {
  typealias Span = OTLPReceiver.Span

  /// The batch exporter's delay, shortened (the environment variable every OpenTelemetry SDK reads) so a
  /// test need not wait the default five seconds.
  static let quickExport = ["OTEL_BSP_SCHEDULE_DELAY": "100"]

  static func hex(_ bytes: Data) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

  static func randomHex(bytes count: Int) -> String {
    (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
  }

  /// What kubelet sends with a call when its tracing is on.
  static func traceMetadata(_ traceparent: String, state: String?) -> Metadata {
    var metadata = Metadata()
    metadata.addString(traceparent, forKey: "traceparent")
    if let state { metadata.addString(state, forKey: "tracestate") }
    return metadata
  }

  /// An attribute's value as text (strings as they are, integers and booleans printed); nil when absent.
  static func attribute(_ span: Span, _ key: String) -> String? {
    guard let value = span.attributes.first(where: { $0.key == key })?.value.value else { return nil }
    switch value {
    case .stringValue(let text): return text
    case .intValue(let number): return String(number)
    case .boolValue(let flag): return String(flag)
    case .doubleValue(let number): return String(number)
    case .bytesValue(let bytes): return hex(bytes)
    }
  }

  @Test func runPodSandboxIsASpanUnderKubeletsTraceWithItsSteps() async throws {
    let receiver = try await OTLPReceiver()
    let config = "[tracing]\nendpoint = \"http://127.0.0.1:\(receiver.port)\"\nprotocol = \"http/protobuf\"\nservice_name = \"crisp-under-test\""
    do {
      try await PodHarness.with(extraConfig: config, environment: Self.quickExport) { pods in
        try await Self.checkTraces(pods, receiver)
      }
    } catch {
      await receiver.stop()
      throw error
    }
    await receiver.stop()
  }

  /// Runs a pod with kubelet's trace headers and a failing call, and checks every span they made.
  static func checkTraces(_ pods: PodHarness, _ receiver: OTLPReceiver) async throws {
    let traceID = randomHex(bytes: 16)
    let parentID = randomHex(bytes: 8)
    let podConfig = pods.podConfig("traced")
    let metadata = traceMetadata("00-\(traceID)-\(parentID)-01", state: "kubelet=on")
    let request = Runtime_V1_RunPodSandboxRequest.with { $0.config = podConfig }
    let podID = try await pods.runtime { runtime in try await runtime.runPodSandbox(request, metadata: metadata).podSandboxID }
    let name = "runtime.v1.RuntimeService/RunPodSandbox"
    // Spans are exported as they end, children before their parent, in batches: wait for the call's own.
    let spans = try await receiver.waitForSpans { spans in spans.contains { $0.name == name && hex($0.traceID) == traceID } }
    try checkRunPodSandbox(spans.filter { hex($0.traceID) == traceID }, parentID: parentID, podID: podID, podConfig: podConfig)
    let resource = try #require(receiver.snapshot.resources.first)
    #expect(resource.attributes.contains { $0.key == "service.name" && $0.value.stringValue == "crisp-under-test" })
    try checkPull(spans, image: pods.image)

    // A failing call (a quick one, served on the socket's event loop): the gRPC code and the error status.
    let statusName = "runtime.v1.RuntimeService/ContainerStatus"
    _ = try? await pods.runtime { runtime in try await runtime.containerStatus(.with { $0.containerID = "no-such-container" }) }
    let afterStatus = try await receiver.waitForSpans { spans in spans.contains { $0.name == statusName } }
    let stop = try #require(afterStatus.first { $0.name == statusName })
    #expect(attribute(stop, "crisp.container_id") == "no-such-container")
    #expect(attribute(stop, "rpc.grpc.status_code") == String(RPCError.Code.notFound.rawValue))
    #expect(stop.status.code == .error)

    // Hostile trace headers from any client: a tracestate of letters with combining marks (which the W3C
    // library's parser traps on) is dropped, the call and the daemon go on; a huge container id in a
    // request is cut in the span.
    let hostileTrace = randomHex(bytes: 16)
    let hostile = traceMetadata("00-\(hostileTrace)-\(randomHex(bytes: 8))-01", state: String(repeating: "b\u{301}", count: 89) + "=1")
    _ = try await pods.runtime { runtime in try await runtime.version(.init(), metadata: hostile) }
    let longID = String(repeating: "x", count: 100_000)
    _ = try? await pods.runtime { runtime in try await runtime.containerStatus(.with { $0.containerID = longID }, metadata: hostile) }
    let version = "runtime.v1.RuntimeService/Version"
    let afterHostile = try await receiver.waitForSpans { spans in
      spans.contains { $0.name == version && hex($0.traceID) == hostileTrace }
        && spans.contains { $0.name == statusName && hex($0.traceID) == hostileTrace }
    }
    let hostileCall = try #require(afterHostile.first { $0.name == version && hex($0.traceID) == hostileTrace })
    #expect(hostileCall.traceState.isEmpty)
    let longCall = try #require(afterHostile.first { $0.name == statusName && hex($0.traceID) == hostileTrace })
    #expect(attribute(longCall, "crisp.container_id")?.utf8.count == 256)
    #expect(try await pods.runtime { runtime in try await runtime.version(.init()).runtimeName } == "crisp")
    #expect(receiver.snapshot.errors.isEmpty)
  }

  /// The RunPodSandbox span under kubelet's, and its children: every CNI plugin, the shim launch, runc start.
  static func checkRunPodSandbox(_ trace: [Span], parentID: String, podID: String, podConfig: Runtime_V1_PodSandboxConfig) throws {
    let call = try #require(trace.first { $0.name == "runtime.v1.RuntimeService/RunPodSandbox" })
    #expect(hex(call.parentSpanID) == parentID)
    #expect(call.traceState == "kubelet=on")
    #expect(call.kind == .server)
    #expect(attribute(call, "rpc.system") == "grpc")
    #expect(attribute(call, "rpc.service") == "runtime.v1.RuntimeService")
    #expect(attribute(call, "rpc.method") == "RunPodSandbox")
    #expect(attribute(call, "rpc.grpc.status_code") == "0")
    #expect(attribute(call, "crisp.pod_sandbox_id") == podID)
    #expect(attribute(call, "k8s.pod.name") == "traced")
    #expect(attribute(call, "k8s.namespace.name") == "default")
    #expect(attribute(call, "k8s.pod.uid") == podConfig.metadata.uid)

    let children = trace.filter { $0.parentSpanID == call.spanID }
    let summary = trace.map { "\($0.name) parent=\(hex($0.parentSpanID))" }
    // Every plugin of the test network's list, in the order CNI runs them.
    let plugins = children.filter { $0.name == "cni ADD" }.sorted { $0.startTimeUnixNano < $1.startTimeUnixNano }
    #expect(plugins.map { attribute($0, "cni.plugin.type") } == ["bridge", "portmap", "bandwidth", "loopback"], "\(summary)")
    for plugin in plugins {
      #expect(attribute(plugin, "cni.command") == "ADD")
      #expect(attribute(plugin, "crisp.pod_sandbox_id") == podID)
      #expect(attribute(plugin, "cni.ifname") == "eth0")
      #expect(plugin.kind == .internal)
    }
    let shim = try #require(children.first { $0.name == "shim launch" }, "\(summary)")
    #expect(attribute(shim, "crisp.container_id") == podID)
    #expect(attribute(shim, "oci.runtime.handler") == "runc")
    let start = try #require(children.first { $0.name == "runc start" }, "\(summary)")
    #expect(attribute(start, "oci.runtime.command") == "start")
    #expect(attribute(start, "oci.runtime.args") == "start \(podID)")
    #expect(start.startTimeUnixNano >= shim.endTimeUnixNano)
    // Every child lies within its call.
    for child in children {
      #expect(child.startTimeUnixNano >= call.startTimeUnixNano && child.endTimeUnixNano <= call.endTimeUnixNano, "\(child.name)")
    }
  }

  /// The harness's own pull, made without a traceparent: a trace of its own, with a fetch and an unpack span
  /// for the image's one layer.
  static func checkPull(_ spans: [Span], image: String) throws {
    let pull = try #require(spans.first { $0.name == "runtime.v1.ImageService/PullImage" })
    #expect(pull.parentSpanID.isEmpty)
    #expect(attribute(pull, "crisp.image") == image)
    // Besides the layer's spans, the registry requests (manifest, config) are AsyncHTTPClient's own `GET`
    // client spans, under the call as well.
    let children = spans.filter { $0.parentSpanID == pull.spanID }.map(\.name)
    #expect(children.filter { $0.hasPrefix("image.") }.sorted() == ["image.layer.fetch", "image.layer.unpack"])
    #expect(children.contains("GET"))
    let fetch = try #require(spans.first { $0.name == "image.layer.fetch" && $0.parentSpanID == pull.spanID })
    #expect(spans.contains { $0.name == "GET" && $0.parentSpanID == fetch.spanID }, "the blob's download is inside its fetch span")
    let unpack = try #require(spans.first { $0.name == "image.layer.unpack" && $0.parentSpanID == pull.spanID })
    #expect(attribute(unpack, "oci.layer.digest")?.hasPrefix("sha256:") == true)
    #expect(attribute(unpack, "oci.layer.diff_id")?.hasPrefix("sha256:") == true)
    #expect(attribute(unpack, "oci.layer.index") == "0")
  }

  /// Off by default: no tracer is installed, so the OpenTelemetry environment pointing at a live receiver
  /// sends nothing, not even on shutdown (when a batch exporter flushes).
  @Test func offByDefaultSendsNothing() async throws {
    let receiver = try await OTLPReceiver()
    let daemon = try DaemonHarness()
    daemon.environment = Self.quickExport.merging([
      "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.port)", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    ]) { a, _ in a }
    try daemon.start()
    let traceparent = Self.traceMetadata("00-\(Self.randomHex(bytes: 16))-\(Self.randomHex(bytes: 8))-01", state: nil)
    _ = try await daemon.withClients { runtime, images in
      _ = try await runtime.version(.init(), metadata: traceparent)
      _ = try await runtime.listPodSandbox(.init(), metadata: traceparent)
      _ = try? await runtime.stopContainer(.with { $0.containerID = "missing" }, metadata: traceparent)
      _ = try await images.listImages(.init(), metadata: traceparent)
    }
    // Many times the export delay, then a graceful stop.
    try await Task.sleep(for: .seconds(2))
    daemon.signal(SIGTERM)
    #expect(try daemon.waitForExit() == 0)
    #expect(receiver.snapshot.requests.isEmpty)
    #expect(!daemon.log.contains("tracing on"))
    await receiver.stop()
  }
}
