import CRIAPI
import Foundation
import Testing
import TestSupport

/// crispctl against a running daemon with a pod and containers: lists, inspect, logs, stats and exec
/// (through the streaming server), in table, JSON and YAML, and errors that exit non-zero with the status.
@Suite(.serialized) struct CrispctlTests {
  @Test func operatorCommandsAgainstARunningDaemon() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("operated")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig(
        "talker", command: ["/bin/sh", "-c", "echo line-two >&2; sleep 0.3; echo line-one; echo line-three; sleep 1000"])
      config.logPath = "talker.log"
      let id = try await pods.runContainer(pod, podConfig, config)
      try await Task.sleep(for: .milliseconds(500))
      let socket = pods.daemon.socketPath
      func crispctl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        // The address right after the subcommand: exec takes everything after the container as the command.
        try DaemonHarness.run(DaemonHarness.crispctlBinary, [arguments[0], "--address", socket] + arguments.dropFirst())
      }

      let listed = try crispctl(["pods"])
      #expect(listed.status == 0)
      #expect(listed.output.contains("POD ID") && listed.output.contains("operated") && listed.output.contains("Ready"), "\(listed.output)")
      let quiet = try crispctl(["pods", "-q"])
      #expect(quiet.output.trimmingCharacters(in: .whitespacesAndNewlines) == pod)
      let ps = try crispctl(["ps", "-o", "json"])
      let containers = (try JSONSerialization.jsonObject(with: Data(ps.output.utf8)) as? [String: Any])?["containers"] as? [[String: Any]]
      #expect(containers?.first?["id"] as? String == id, "\(ps.output)")
      let yaml = try crispctl(["ps", "-o", "yaml"])
      // An id that starts with a digit is quoted in YAML; one that starts with a letter need not be.
      let quoted = id.first?.isNumber == true ? "id: \"\(id)\"" : "id: \(id)"
      #expect(yaml.output.contains("containers:") && yaml.output.contains(quoted), "\(yaml.output)")

      let inspect = try crispctl(["inspect", String(id.prefix(12))])
      let status = (try JSONSerialization.jsonObject(with: Data(inspect.output.utf8)) as? [String: Any])?["status"] as? [String: Any]
      #expect(status?["state"] as? String == "CONTAINER_RUNNING", "\(inspect.output)")
      let inspectp = try crispctl(["inspectp", pod])
      #expect(inspectp.output.contains("SANDBOX_READY"), "\(inspectp.output)")
      #expect(inspectp.output.contains("\"networkCheck\" : \"ok\""), "\(inspectp.output)")

      let logs = try crispctl(["logs", id])
      #expect(logs.output.contains("line-one") && logs.output.contains("line-two") && logs.output.contains("line-three"), "\(logs.output)")
      let tail = try crispctl(["logs", "--tail", "1", id])
      #expect(tail.output.trimmingCharacters(in: .whitespacesAndNewlines) == "line-three", "\(tail.output)")

      let stats = try crispctl(["stats"])
      #expect(stats.output.contains("CPU %") && stats.output.contains("talker"), "\(stats.output)")

      let exec = try crispctl(["exec", id, "/bin/sh", "-c", "echo from-exec; exit 5"])
      #expect(exec.status == 5)
      #expect(exec.output.contains("from-exec"), "\(exec.output)")

      // A failed call prints the gRPC status and exits non-zero.
      let missing = try crispctl(["inspect", "no-such-container"])
      #expect(missing.status != 0)
      #expect(missing.output.contains("notFound") || missing.output.contains("not found"), "\(missing.output)")
    }
  }
}

/// The configuration commands answer the same under crispctl as under crisp.
@Suite struct CrispctlConfigTests {
  @Test func configCommandsMatchTheDaemons() throws {
    let fromCtl = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["config", "default"])
    let fromDaemon = try DaemonHarness.run(DaemonHarness.crispBinary, ["config", "default"])
    #expect(fromCtl.status == 0)
    #expect(fromCtl.output == fromDaemon.output)
    let missing = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["config", "check", "/nonexistent/config.toml"])
    #expect(missing.status == 1)
    #expect(missing.output.hasPrefix("crispctl: "), "\(missing.output)")
  }
}
