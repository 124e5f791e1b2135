import Foundation
import Testing
import TestSupport

/// The Prometheus endpoint: off by default, and when configured it serves parseable exposition text whose
/// counters move with the calls made.
@Suite(.serialized) struct MetricsTests {
  /// A loopback port nobody listens on right now.
  static func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
  }

  /// Samples by series (`name{labels}`), every line checked against the exposition format.
  static func scrape(_ port: Int) throws -> [String: Double] {
    let text = try TestEnvironment.shell("curl -sf http://127.0.0.1:\(port)/metrics")
    var samples: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      let parts = line.split(separator: " ")
      #expect(parts.count == 2, "not a sample line: \(line)")
      guard parts.count == 2, let value = Double(parts[1]) else {
        Issue.record("unparseable sample: \(line)")
        continue
      }
      samples[String(parts[0])] = value
    }
    return samples
  }

  @Test func countersMoveWithCalls() async throws {
    let port = Self.freePort()
    let daemon = try DaemonHarness()
    try daemon.writeConfig("[metrics]\naddress = \"127.0.0.1:\(port)\"")
    try daemon.start()
    _ = try await daemon.withClients { runtime, _ in try await runtime.version(.init()) }
    let first = try Self.scrape(port)
    let versions = "crisp_grpc_requests_total{method=\"Version\",code=\"ok\"}"
    let before = try #require(first[versions], "\(first.keys.sorted())")
    #expect(first["crisp_sandboxes{state=\"ready\"}"] == 0)
    #expect(first["crisp_shims"] != nil)
    _ = try await daemon.withClients { runtime, _ in
      for _ in 0..<3 { _ = try await runtime.version(.init()) }
      _ = try? await runtime.containerStatus(.with { $0.containerID = "missing" })
    }
    let second = try Self.scrape(port)
    #expect(second[versions] == before + 3)
    #expect(second["crisp_grpc_requests_total{method=\"ContainerStatus\",code=\"notFound\"}"] == 1, "\(second.keys.sorted())")
    #expect(second.keys.contains { $0.hasPrefix("crisp_grpc_request_duration_seconds_bucket{method=\"Version\"") })
    let missing = try TestEnvironment.shell("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\(port)/other")
    #expect(missing == "404")
  }
}
