import Foundation
import Testing
import TestSupport

/// crisp's own gRPC server, at the protocol's edges, through clients that are not crisp's code: Python grpcio
/// and a raw HTTP/2 connection (Tests/Fixtures/grpc_edges.py). kubelet, crictl and the CRI test suite all
/// speak grpc-go, so every answer here must be what a gRPC server gives.
@Suite(.serialized) struct GRPCServerTests {
  /// Python stubs for the CRI and admin protos, generated from proto/ at test time.
  static func stubs(in daemon: DaemonHarness) throws -> String {
    let stubs = daemon.directory + "/stubs"
    try FileManager.default.createDirectory(atPath: stubs, withIntermediateDirectories: true)
    let proto = URL(fileURLWithPath: TestEnvironment.fixtures).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("proto")
      .path
    try TestEnvironment.shell(
      "/usr/bin/python3 -m grpc_tools.protoc -I \(proto) --python_out=\(stubs) --grpc_python_out=\(stubs) \(proto)/runtime/v1/api.proto \(proto)/admin/v1/admin.proto"
    )
    return stubs
  }

  @Test func answersProtocolEdgesWithGRPCStatuses() async throws {
    let daemon = try DaemonHarness()
    try daemon.start()
    defer { daemon.stop() }
    let stubs = try Self.stubs(in: daemon)
    let output = try TestEnvironment.shell("/usr/bin/python3 \(TestEnvironment.fixtures)/grpc_edges.py \(daemon.socketPath) \(stubs)")
    let seen = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
    func status(_ key: String) -> (code: String, message: String) {
      let pair = seen[key] as? [Any] ?? []
      return ("\(pair.first ?? "missing")", "\(pair.count > 1 ? pair[1] : "")")
    }

    #expect(status("unknownMethod").code == "UNIMPLEMENTED")
    #expect(status("unknownMethod").message.contains("/runtime.v1.RuntimeService/NoSuchCall"))
    #expect(status("unknownService").code == "UNIMPLEMENTED")
    #expect(status("undecodable").code == "INTERNAL")
    #expect(status("undecodable").message.contains("runtime.v1.VersionRequest"), "\(status("undecodable"))")
    #expect(status("compressed").code == "UNIMPLEMENTED")
    #expect(status("compressed").message.contains("compressed"))
    #expect(status("oversized").code == "RESOURCE_EXHAUSTED")
    #expect(seen["concurrentOK"] as? Int == 300)
    #expect(seen["sequentialOK"] as? Int == 300)
    // 40 MiB through a 1 MiB stream window, then the archive is refused for what it is.
    #expect(status("bigImport").code == "INVALID_ARGUMENT", "\(status("bigImport"))")
    #expect(status("cancelled").code == "CANCELLED")
    #expect(status("afterCancel").code == "OK")

    #expect(seen["wrongContentType"] as? String == "415")
    #expect(seen["getMethod"] as? String == "405")
    #expect(seen["grpcWeb"] as? String == "415")
    #expect(seen["notHTTP2Closed"] as? Bool == true)
    #expect(status("noMessage").code == "13")
    #expect(status("noMessage").message.contains("request message"))
    #expect(status("twoMessages").code == "13")
    #expect(status("truncated").code == "13")
    #expect(status("truncated").message.contains("inside a message"))
    // The server ends the call at the deadline the client sent, not only the client.
    let deadline = seen["serverDeadline"] as? [Any] ?? []
    #expect(deadline.first as? String == "4", "\(deadline)")
    #expect((deadline.last as? Double ?? 99) < 2.0, "\(deadline)")
    #expect(status("afterReset").code == "200")
    #expect(status("afterReset").message == "0")
    #expect(seen["pingsAcked"] as? Int == 400)
    #expect(status("afterPings").code == "200")
    #expect(status("afterPings").message == "0")

    // The daemon is unharmed and still answers on a fresh connection.
    try await daemon.withClients { runtime, _ in
      let version = try await runtime.version(.init())
      #expect(version.runtimeName == "crisp")
    }
  }

  /// SIGTERM ends an open event stream with UNAVAILABLE (kubelet then reconnects to the next daemon) and the
  /// daemon exits cleanly, without waiting for the stream's client.
  @Test func shutdownEndsEventStreamsAndExits() async throws {
    let daemon = try DaemonHarness()
    let process = try daemon.start()
    let stubs = try Self.stubs(in: daemon)
    let output = try TestEnvironment.shell(
      "/usr/bin/python3 \(TestEnvironment.fixtures)/grpc_edges.py \(daemon.socketPath) \(stubs) shutdown \(process.processIdentifier)")
    let seen = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
    let events = seen["events"] as? [Any] ?? []
    #expect(events.first as? String == "UNAVAILABLE", "\(output)")
    #expect((seen["seconds"] as? Double ?? 99) < 5, "\(output)")
    #expect(try daemon.waitForExit(timeout: .seconds(10)) == 0)
    #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
  }
}
