import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// kubelet is not crisp: a client generated from proto/ by another toolchain (Python grpcio) drives a pod.
@Suite struct ForeignClientTests {
  @Test func pythonGrpcClientRunsAPod() async throws {
    try await PodHarness.with { pods in
      let stubs = pods.daemon.directory + "/stubs"
      try FileManager.default.createDirectory(atPath: stubs, withIntermediateDirectories: true)
      let proto = URL(fileURLWithPath: TestEnvironment.fixtures).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
        "proto"
      ).path
      try TestEnvironment.shell(
        "/usr/bin/python3 -m grpc_tools.protoc -I \(proto) --python_out=\(stubs) --grpc_python_out=\(stubs) \(proto)/runtime/v1/api.proto")
      let output = try TestEnvironment.shell(
        "/usr/bin/python3 \(TestEnvironment.fixtures)/cri_smoke.py \(pods.daemon.socketPath) \(pods.image) \(pods.logDirectory) \(stubs)")
      let seen = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
      #expect(seen["version"] as? [String] == ["crisp", "0.1.0", "v1"])
      #expect((seen["image"] as? String)?.hasPrefix("sha256:") == true)
      #expect(seen["podState"] as? String == "SANDBOX_READY")
      #expect(seen["containerState"] as? String == "CONTAINER_RUNNING")
      #expect(seen["resolvConf"] as? String == "search default.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n")
      #expect(seen["execExit"] as? Int == 0)
      #expect(seen["listed"] as? Bool == true)
      #expect(seen["log"] as? [String] == ["stdout", "F", "from-python"])
      #expect(seen["stopped"] as? String == "CONTAINER_EXITED")
      #expect(seen["removed"] as? Bool == true)
    }
  }

  /// A handler that cannot work on this host is not advertised, and a pod asking for it fails with the
  /// runtime's own message (Debian's crun 1.8 refuses a hybrid cgroup layout); where it works, it runs pods.
  @Test func crunIsAdvertisedOnlyWhereItWorks() async throws {
    try await PodHarness.with { pods in
      let handlers = try await pods.runtime { try await $0.status(.init()).runtimeHandlers.map(\.name) }
      #expect(handlers.contains("runc"))
      if handlers.contains("crun") {
        let pod = try await pods.runPod(pods.podConfig("crun-pod"), handler: "crun")
        #expect(!pod.isEmpty)
      } else {
        do {
          _ = try await pods.runPod(pods.podConfig("crun-pod"), handler: "crun")
          Issue.record("a crun pod ran although crun is not advertised")
        } catch let error as RPCError {
          #expect(error.code == .failedPrecondition)
          #expect(error.message.contains("crun"))
          #expect(error.message.contains("hybrid") || error.message.contains("cgroup"), "\(error.message)")
        }
        #expect(HostSnapshot.take(under: pods.daemon.directory).netns.isEmpty)
      }
    }
  }
}
