import CRIAPI
import Foundation
import GRPCCore
import SPDY
import Testing
import TestSupport

/// Exec, attach and port-forward end to end: the CRI call hands out a URL, a client upgrades it to SPDY/3.1
/// (our test client, checked against the spec's byte layout in StreamingUnitTests) or to a websocket (the
/// websocket-client library, not ours), and the session runs against real runc containers.
@Suite(.serialized) struct StreamingTests {
  static func execURL(
    _ pods: PodHarness, _ id: String, _ command: [String], stdin: Bool = false, stdout: Bool = true, stderr: Bool = true, tty: Bool = false
  ) async throws -> String {
    try await pods.runtime { runtime in
      try await runtime.exec(
        .with {
          $0.containerID = id
          $0.cmd = command
          $0.stdin = stdin
          $0.stdout = stdout
          $0.stderr = stderr
          $0.tty = tty
        }
      ).url
    }
  }

  static func status(_ text: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
  }

  @Test func execOverSPDYReportsOutputAndExitCode() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("exec")
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(pod, podConfig, pods.containerConfig("sleeper", command: ["/bin/sleep", "1000"]))
      let url = try await Self.execURL(pods, id, ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
      #expect(url.contains("/exec/"))
      let client = try SPDYClient(url: url, protocols: ["v4.channel.k8s.io", "v3.channel.k8s.io"])
      #expect(client.upgraded, "\(client.responseHead)")
      #expect(client.responseHead.contains("X-Stream-Protocol-Version: v4.channel.k8s.io"))
      let error = client.openStream("error")
      let stdout = client.openStream("stdout")
      let stderr = client.openStream("stderr")
      try client.pump(until: "the session to end") { client.finished.isSuperset(of: [error, stdout, stderr]) }
      #expect(client.replied == [error, stdout, stderr])
      #expect(client.text(stdout) == "out\n")
      #expect(client.text(stderr) == "err\n")
      let status = Self.status(client.text(error))
      #expect(status["status"] as? String == "Failure")
      #expect(status["reason"] as? String == "NonZeroExitCode")
      let causes = (status["details"] as? [String: Any])?["causes"] as? [[String: Any]]
      #expect(causes?.first?["message"] as? String == "3", "\(client.text(error))")

      // Success is a Status with status Success; the token was single-use.
      let ok = try await Self.execURL(pods, id, ["/bin/echo", "fine"], stderr: false)
      let second = try SPDYClient(url: ok, protocols: ["v4.channel.k8s.io"])
      let errorStream = second.openStream("error")
      let out = second.openStream("stdout")
      try second.pump(until: "echo") { second.finished.isSuperset(of: [errorStream, out]) }
      #expect(second.text(out) == "fine\n")
      #expect(Self.status(second.text(errorStream))["status"] as? String == "Success")
      let reused = try SPDYClient(url: ok, protocols: ["v4.channel.k8s.io"])
      #expect(reused.responseHead.hasPrefix("HTTP/1.1 404"), "\(reused.responseHead)")
      let unsupported = try SPDYClient(url: try await Self.execURL(pods, id, ["/bin/true"]), protocols: ["v9.channel.k8s.io"])
      #expect(unsupported.responseHead.hasPrefix("HTTP/1.1 403"), "\(unsupported.responseHead)")
    }
  }

  /// Older clients: no protocol offered means v1 (the error stream carries a bare message), and stdin is
  /// never dropped however fast it comes (8 MiB to a reader that starts late).
  @Test func legacyProtocolAndLargeStdin() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("legacy")
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(pod, podConfig, pods.containerConfig("host", command: ["/bin/sleep", "1000"]))
      let legacy = try SPDYClient(url: try await Self.execURL(pods, id, ["/bin/sh", "-c", "echo old; exit 4"], stderr: false), protocols: [])
      #expect(legacy.upgraded, "\(legacy.responseHead)")
      #expect(!legacy.responseHead.contains("X-Stream-Protocol-Version"))
      let legacyError = legacy.openStream("error")
      let legacyOut = legacy.openStream("stdout")
      try legacy.pump(until: "the legacy session") { legacy.finished.isSuperset(of: [legacyError, legacyOut]) }
      #expect(legacy.text(legacyOut) == "old\n")
      #expect(legacy.text(legacyError).contains("exit status 4"), "\(legacy.text(legacyError))")

      let url = try await Self.execURL(pods, id, ["/bin/sh", "-c", "sleep 1; wc -c"], stdin: true, stderr: false)
      let client = try SPDYClient(url: url, protocols: ["v4.channel.k8s.io"])
      let error = client.openStream("error")
      let stdin = client.openStream("stdin")
      let stdout = client.openStream("stdout")
      try client.pump(until: "replies") { client.replied.count == 3 }
      // Many small frames: more chunks than any fixed-size queue of messages would hold.
      let chunk = [UInt8](repeating: 120, count: 4 * 1024)
      for _ in 0..<2048 { client.send(.data(streamID: stdin, flags: 0, payload: chunk)) }
      client.send(.data(streamID: stdin, flags: SPDYFrame.flagFin, payload: []))
      try client.pump(until: "wc", timeout: 60) { client.finished.contains(error) }
      #expect(client.text(stdout).trimmingCharacters(in: .whitespacesAndNewlines) == "\(2048 * 4 * 1024)")
    }
  }

  @Test func interactiveTerminalWithStdinAndResize() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("tty")
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(pod, podConfig, pods.containerConfig("shell-host", command: ["/bin/sleep", "1000"]))
      let url = try await Self.execURL(pods, id, ["/bin/sh"], stdin: true, stderr: false, tty: true)
      let client = try SPDYClient(url: url, protocols: ["v4.channel.k8s.io"])
      #expect(client.upgraded)
      let error = client.openStream("error")
      let stdin = client.openStream("stdin")
      let stdout = client.openStream("stdout")
      let resize = client.openStream("resize")
      try client.pump(until: "replies") { client.replied.count == 4 }
      client.write(resize, "{\"Width\":123,\"Height\":45}")
      try await Task.sleep(for: .milliseconds(300))
      // The resize and stdin streams are independent: under load the shell may read its first line before
      // the resize is applied, so ask again (up to five times) until the terminal reports the new size.
      for attempt in 1...5 {
        client.write(stdin, "stty size; echo marker-$((40+\(attempt)))\n")
        try client.pump(until: "the command's output") { client.text(stdout).contains("marker-\(40 + attempt)") }
        if client.text(stdout).contains("45 123") { break }
        try await Task.sleep(for: .milliseconds(200))
      }
      #expect(client.text(stdout).contains("45 123"), "\(client.text(stdout))")
      client.write(stdin, "exit 7\n")
      try client.pump(until: "the shell to exit") { client.finished.contains(error) }
      let causes = (Self.status(client.text(error))["details"] as? [String: Any])?["causes"] as? [[String: Any]]
      #expect(causes?.first?["message"] as? String == "7", "\(client.text(error))")
    }
  }

  /// What a client types into an exec'd terminal is exactly what the command reads: nothing ahead of it (no
  /// NUL bytes the terminal would echo as `^@`), nothing dropped. The command dumps its input in hex, so any
  /// extra byte shows; the client opens its streams, sizes the terminal and types as kubectl and crictl do.
  @Test func aTerminalCommandReadsExactlyWhatWasTyped() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("typed")
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(pod, podConfig, pods.containerConfig("reader", command: ["/bin/sleep", "1000"]))
      for attempt in 1...3 {
        let url = try await Self.execURL(pods, id, ["/bin/od", "-An", "-tx1", "-v"], stdin: true, stderr: false, tty: true)
        let client = try SPDYClient(url: url, protocols: ["v4.channel.k8s.io"])
        let error = client.openStream("error")
        let stdin = client.openStream("stdin")
        let stdout = client.openStream("stdout")
        let resize = client.openStream("resize")
        try client.pump(until: "replies") { client.replied.count == 4 }
        client.write(resize, "{\"Width\":80,\"Height\":24}")
        // Give runc time to set the terminal up: bytes written before that are what this test is about.
        try await Task.sleep(for: .milliseconds(300))
        client.write(stdin, "typed-\(attempt)\n")
        // The terminal's echo of the line: the command has read it by then.
        try client.pump(until: "the echo") { client.text(stdout).contains("typed-\(attempt)") }
        client.send(.data(streamID: stdin, flags: SPDYFrame.flagFin, payload: []))
        try client.pump(until: "od to end") { client.finished.contains(error) }
        let output = client.text(stdout)
        #expect(Self.status(client.text(error))["status"] as? String == "Success", "\(client.text(error))")
        let bytes = Self.hexDump(in: output)
        let expected: [String] = Array("typed-\(attempt)\n".utf8).map { byte in
          String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
        }
        #expect(bytes == expected, "the command read \(bytes), output \(output.debugDescription)")
        #expect(!output.contains("^@"), "\(output.debugDescription)")
      }
      // Typed, and stdin ended, before runc has set the terminal up (a client piping a line in): the command
      // still reads exactly the line, then the end of input; nothing is turned into a NUL on the way.
      for attempt in 1...3 {
        let url = try await Self.execURL(pods, id, ["/bin/od", "-An", "-tx1", "-v"], stdin: true, stderr: false, tty: true)
        let client = try SPDYClient(url: url, protocols: ["v4.channel.k8s.io"])
        let error = client.openStream("error")
        let stdin = client.openStream("stdin")
        let stdout = client.openStream("stdout")
        client.openStream("resize")
        try client.pump(until: "replies") { client.replied.count == 4 }
        client.write(stdin, "early-\(attempt)\n")
        client.send(.data(streamID: stdin, flags: SPDYFrame.flagFin, payload: []))
        // A lost end of input leaves od waiting: the output so far then shows what it read.
        let ended = (try? client.pump(until: "od to end", timeout: 10) { client.finished.contains(error) }) != nil
        let output = client.text(stdout)
        #expect(ended, "od never saw the end of its input; output \(output.debugDescription)")
        let expected: [String] = Array("early-\(attempt)\n".utf8).map {
          String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16)
        }
        #expect(Self.hexDump(in: output) == expected, "output \(output.debugDescription)")
        #expect(!output.contains("^@"), "\(output.debugDescription)")
      }
    }
  }

  /// The bytes of od's `-tx1` lines in `output` (lines of two-digit hex words only; the terminal's echo of
  /// the typed line is not one).
  static func hexDump(in output: String) -> [String] {
    var bytes: [String] = []
    for line in output.split(whereSeparator: \.isNewline) {
      let words = line.split(separator: " ").map(String.init)
      let isDump = !words.isEmpty && words.allSatisfy { word in word.count == 2 && word.allSatisfy { $0.isHexDigit } }
      if isDump { bytes += words }
    }
    return bytes
  }

  @Test func aClientThatGoesAwayKillsTheExecdProcess() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("gone")
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(pod, podConfig, pods.containerConfig("host", command: ["/bin/sleep", "1000"]))
      let url = try await Self.execURL(pods, id, ["/bin/sleep", "4711"], stderr: false)
      var client: SPDYClient? = try SPDYClient(url: url, protocols: ["v4.channel.k8s.io"])
      client?.openStream("error")
      client?.openStream("stdout")
      try client?.pump(until: "replies") { client?.replied.count == 2 }
      try await Task.sleep(for: .milliseconds(500))
      func running() async throws -> Bool {
        String(decoding: try await pods.exec(id, ["/bin/ps", "-o", "args"]).stdout, as: UTF8.self).contains("sleep 4711")
      }
      #expect(try await running())
      client = nil  // closes the connection
      var stillRunning = true
      for _ in 0..<50 where stillRunning {
        try await Task.sleep(for: .milliseconds(100))
        stillRunning = try await running()
      }
      #expect(!stillRunning, "the exec'd process outlived its client")
      // Garbage after the upgrade: the connection is closed and the daemon carries on.
      let garbage = try SPDYClient(url: try await Self.execURL(pods, id, ["/bin/true"]), protocols: ["v4.channel.k8s.io"])
      garbage.send(Array("this is not SPDY at all, not even close".utf8))
      try garbage.pump(until: "the server to hang up", timeout: 10) { garbage.closed }
      #expect(garbage.closed)
      _ = try await pods.runtime { try await $0.version(.init()) }
    }
  }

  @Test func websocketExecWithAForeignClient() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("ws")
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(pod, podConfig, pods.containerConfig("host", command: ["/bin/sleep", "1000"]))
      for subprotocol in ["v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io"] {
        let url = try await Self.execURL(pods, id, ["/bin/sh", "-c", "read line; echo \"$line\"; echo done >&2; exit 2"], stdin: true)
        let output = try TestEnvironment.shell("/usr/bin/python3 \(TestEnvironment.fixtures)/ws_exec.py '\(url)' \(subprotocol) 'hello from python'")
        let result = Self.status(output)
        #expect(result["protocol"] as? String == subprotocol, "\(output)")
        #expect(result["closed"] as? Bool == true, "\(output)")
        let channels = result["channels"] as? [String: String] ?? [:]
        #expect(channels["1"] == "hello from python\n", "\(output)")
        #expect(channels["2"] == "done\n", "\(output)")
        let causes = (Self.status(channels["3"] ?? "")["details"] as? [String: Any])?["causes"] as? [[String: Any]]
        #expect(causes?.first?["message"] as? String == "2", "\(output)")
      }
      // v5's close signal ends stdin: cat sees end of input and the exec finishes.
      let cat = try await Self.execURL(pods, id, ["/bin/cat"], stdin: true, stderr: false)
      let catOutput = try TestEnvironment.shell("/usr/bin/python3 \(TestEnvironment.fixtures)/ws_exec.py '\(cat)' v5.channel.k8s.io 'to cat'")
      #expect((Self.status(catOutput)["channels"] as? [String: String])?["1"] == "to cat\n", "\(catOutput)")
      let simple = try await Self.execURL(pods, id, ["/bin/echo", "plain"], stderr: false)
      let output = try TestEnvironment.shell("/usr/bin/python3 \(TestEnvironment.fixtures)/ws_exec.py '\(simple)' v4.channel.k8s.io")
      let channels = Self.status(output)["channels"] as? [String: String] ?? [:]
      #expect(channels["1"] == "plain\n", "\(output)")
      #expect(Self.status(channels["3"] ?? "")["status"] as? String == "Success", "\(output)")
    }
  }

  @Test func attachReceivesARunningContainersOutput() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("attach")
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(
        pod, podConfig, pods.containerConfig("ticker", command: ["/bin/sh", "-c", "while true; do echo tick; sleep 0.2; done"]))
      let url = try await pods.runtime {
        try await $0.attach(
          .with {
            $0.containerID = id; $0.stdout = true; $0.stderr = true
          }
        ).url
      }
      #expect(url.contains("/attach/"))
      let first = try SPDYClient(url: url, protocols: ["v4.channel.k8s.io"])
      first.openStream("error")
      let stdout = first.openStream("stdout")
      first.openStream("stderr")
      let secondURL = try await pods.runtime {
        try await $0.attach(
          .with {
            $0.containerID = id; $0.stdout = true
          }
        ).url
      }
      let second = try SPDYClient(url: secondURL, protocols: ["v4.channel.k8s.io"])
      second.openStream("error")
      let secondOut = second.openStream("stdout")
      try first.pump(until: "ticks") { first.text(stdout).contains("tick\ntick") }
      try second.pump(until: "ticks on the second attach") { second.text(secondOut).contains("tick\ntick") }
      // A tty container attached without asking for a tty (kubectl attach without -t): served, stderr dropped.
      let terminal = try await pods.runContainer(
        pod, podConfig, pods.containerConfig("terminal", command: ["/bin/sh", "-c", "while true; do echo tty-tick; sleep 0.2; done"], tty: true))
      let ttyURL = try await pods.runtime {
        try await $0.attach(
          .with {
            $0.containerID = terminal; $0.stdout = true; $0.stderr = true
          }
        ).url
      }
      let ttyClient = try SPDYClient(url: ttyURL, protocols: ["v4.channel.k8s.io"])
      ttyClient.openStream("error")
      let ttyOut = ttyClient.openStream("stdout")
      ttyClient.openStream("resize")
      try ttyClient.pump(until: "tty ticks") { ttyClient.text(ttyOut).contains("tty-tick") }
      // Attaching stdin to a container created without it is refused with the reason.
      do {
        _ = try await pods.runtime {
          try await $0.attach(
            .with {
              $0.containerID = id; $0.stdin = true; $0.stdout = true
            })
        }
        Issue.record("attached stdin")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("stdin"))
      }
    }
  }

  @Test func portForwardReachesThePodsLoopbackAndHostNetworkPods() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("forward")
      let pod = try await pods.runPod(podConfig)
      _ = try await pods.runContainer(
        pod, podConfig,
        pods.containerConfig(
          "web", command: ["/bin/sh", "-c", "echo forwarded-page > /tmp/index.html; exec /bin/httpd -f -p 127.0.0.1:8080 -h /tmp"]))
      try await Task.sleep(for: .milliseconds(500))
      let url = try await pods.runtime {
        try await $0.portForward(
          .with {
            $0.podSandboxID = pod; $0.port = [8080]
          }
        ).url
      }
      let client = try SPDYClient(url: url, protocols: ["portforward.k8s.io"])
      #expect(client.responseHead.contains("X-Stream-Protocol-Version: portforward.k8s.io"), "\(client.responseHead)")
      let error = client.openStream("error", extra: [("port", "8080"), ("requestid", "0")])
      let data = client.openStream("data", extra: [("port", "8080"), ("requestid", "0")])
      client.write(data, "GET /index.html HTTP/1.0\r\n\r\n")
      // The pod closing the connection finishes both streams: the client waits for the error stream's end.
      try client.pump(until: "the page and both streams' ends") { client.finished.isSuperset(of: [data, error]) }
      #expect(client.text(data).contains("forwarded-page"), "\(client.text(data))")
      #expect(client.text(error).isEmpty)

      // A port nobody listens on: the error stream says so.
      let refusedURL = try await pods.runtime {
        try await $0.portForward(
          .with {
            $0.podSandboxID = pod; $0.port = [8181]
          }
        ).url
      }
      let refused = try SPDYClient(url: refusedURL, protocols: ["portforward.k8s.io"])
      let refusedError = refused.openStream("error", extra: [("port", "8181"), ("requestid", "1")])
      refused.openStream("data", extra: [("port", "8181"), ("requestid", "1")])
      try refused.pump(until: "the error") { refused.text(refusedError).contains("8181") }
      #expect(refused.text(refusedError).lowercased().contains("connection refused"), "\(refused.text(refusedError))")

      // The websocket form, with a client that is not ours; a dead port is reported on the error channel.
      let wsURL = try await pods.runtime { try await $0.portForward(.with { $0.podSandboxID = pod }).url }
      let wsOutput = try TestEnvironment.shell(
        "/usr/bin/python3 \(TestEnvironment.fixtures)/ws_portforward.py '\(wsURL)' 8080 'GET /index.html HTTP/1.0\\r\\n\\r\\n' forwarded-page")
      let ws = Self.status(wsOutput)
      #expect((ws["prefixes"] as? [String: Int]) == ["0": 8080, "1": 8080], "\(wsOutput)")
      #expect((ws["data"] as? String)?.contains("forwarded-page") == true, "\(wsOutput)")
      let wsRefusedURL = try await pods.runtime { try await $0.portForward(.with { $0.podSandboxID = pod }).url }
      let wsRefused = try TestEnvironment.shell("/usr/bin/python3 \(TestEnvironment.fixtures)/ws_portforward.py '\(wsRefusedURL)' 8181 'x' never")
      #expect((Self.status(wsRefused)["error"] as? String)?.lowercased().contains("connection refused") == true, "\(wsRefused)")

      // A host-network pod: the port is dialled on the host (a listener of the test's own).
      var hostConfig = pods.podConfig("forward-host")
      hostConfig.linux.securityContext.namespaceOptions.network = .node
      let hostPod = try await pods.runPod(hostConfig)
      let listener = try TCPListener()
      let listenerPort = Int32(listener.port)
      let hostURL = try await pods.runtime {
        try await $0.portForward(
          .with {
            $0.podSandboxID = hostPod; $0.port = [listenerPort]
          }
        ).url
      }
      let hostClient = try SPDYClient(url: hostURL, protocols: ["portforward.k8s.io"])
      hostClient.openStream("error", extra: [("port", "\(listener.port)"), ("requestid", "0")])
      let hostData = hostClient.openStream("data", extra: [("port", "\(listener.port)"), ("requestid", "0")])
      hostClient.write(hostData, "ping")
      let peer = try listener.acceptOne()
      #expect(String(decoding: peer.read(4), as: UTF8.self) == "ping")
      peer.write("pong")
      try hostClient.pump(until: "pong") { hostClient.text(hostData) == "pong" }
    }
  }

  @Test func aClientThatNeverOpensItsStreamsIsDisconnected() async throws {
    try await PodHarness.with(extraConfig: "[streaming]\nstream_creation_timeout = \"1s\"\n") { pods in
      let podConfig = pods.podConfig("lazy")
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(pod, podConfig, pods.containerConfig("host", command: ["/bin/sleep", "1000"]))
      let url = try await Self.execURL(pods, id, ["/bin/sleep", "4242"])
      let client = try SPDYClient(url: url, protocols: ["v4.channel.k8s.io"])
      client.openStream("error")  // stdout and stderr never come
      try client.pump(until: "the server to give up", timeout: 10) { client.closed }
      #expect(client.closed)
      let processes = String(decoding: try await pods.exec(id, ["/bin/ps", "-o", "args"]).stdout, as: UTF8.self)
      #expect(!processes.contains("sleep 4242"), "\(processes)")
    }
  }

  /// With a certificate configured the server speaks HTTPS and hands out https URLs.
  @Test func tlsStreaming() async throws {
    let directory = try TestEnvironment.temporaryDirectory("crisp-tls")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    _ = try TestEnvironment.shell(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout \(directory)/key.pem -out \(directory)/cert.pem 2>&1")
    let config = "[streaming]\ntls_cert_file = \"\(directory)/cert.pem\"\ntls_key_file = \"\(directory)/key.pem\"\n"
    try await PodHarness.with(extraConfig: config) { pods in
      let podConfig = pods.podConfig("tls")
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(pod, podConfig, pods.containerConfig("host", command: ["/bin/sleep", "1000"]))
      let url = try await Self.execURL(pods, id, ["/bin/echo", "over-tls"], stderr: false)
      #expect(url.hasPrefix("https://127.0.0.1:"), "\(url)")
      let output = try TestEnvironment.shell("/usr/bin/python3 \(TestEnvironment.fixtures)/ws_exec.py '\(url)' v4.channel.k8s.io")
      #expect((Self.status(output)["channels"] as? [String: String])?["1"] == "over-tls\n", "\(output)")
    }
  }

  @Test func badRequestsGetPreciseStatuses() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("bad")
      let pod = try await pods.runPod(podConfig)
      let id = try await pods.runContainer(pod, podConfig, pods.containerConfig("short", command: ["/bin/true"]))
      _ = try await pods.waitForExit(id)
      let cases: [(Runtime_V1_ExecRequest, RPCError.Code, String)] = [
        (
          .with {
            $0.containerID = "missing"; $0.cmd = ["/bin/true"]; $0.stdout = true
          }, .notFound, "container_id"
        ),
        (
          .with {
            $0.containerID = id; $0.cmd = ["/bin/true"]; $0.stdout = true
          }, .failedPrecondition, "not running"
        ),
        (
          .with {
            $0.containerID = id; $0.cmd = []; $0.stdout = true
          }, .invalidArgument, "cmd"
        ),
        (
          .with {
            $0.containerID = id; $0.cmd = ["/bin/true"]
          }, .invalidArgument, "stdin, stdout and stderr"
        ),
        (
          .with {
            $0.containerID = id; $0.cmd = ["/bin/sh"]; $0.tty = true; $0.stderr = true; $0.stdout = true
          }, .invalidArgument, "tty"
        ),
      ]
      for (request, code, fragment) in cases {
        do {
          _ = try await pods.runtime { try await $0.exec(request) }
          Issue.record("accepted \(request)")
        } catch let error as RPCError {
          #expect(error.code == code, "\(error)")
          #expect(error.message.contains(fragment), "\(error.message)")
        }
      }
      do {
        _ = try await pods.runtime {
          try await $0.portForward(
            .with {
              $0.podSandboxID = "missing"; $0.port = [80]
            })
        }
        Issue.record("port-forward to a missing pod")
      } catch let error as RPCError {
        #expect(error.code == .notFound)
      }
      do {
        _ = try await pods.runtime {
          try await $0.portForward(
            .with {
              $0.podSandboxID = pod; $0.port = [70000]
            })
        }
        Issue.record("port 70000 accepted")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
      }
    }
  }
}

/// A loopback TCP listener for the host-network port-forward case.
final class TCPListener {
  let fd: Int32
  let port: UInt16

  init() throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    self.fd = fd
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    listen(fd, 4)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    port = UInt16(bigEndian: address.sin_port)
  }

  deinit { close(fd) }

  final class Peer {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }
    func read(_ count: Int) -> [UInt8] {
      var collected: [UInt8] = []
      var buffer = [UInt8](repeating: 0, count: count)
      while collected.count < count {
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, count - collected.count) }
        if n <= 0 { break }
        collected += buffer[0..<n]
      }
      return collected
    }
    func write(_ text: String) { _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
  }

  func acceptOne() throws -> Peer {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&entry, 1, 10_000) > 0 else { throw SPDYClient.Failure.timeout("a forwarded connection") }
    return Peer(fd: accept(fd, nil, nil))
  }
}
