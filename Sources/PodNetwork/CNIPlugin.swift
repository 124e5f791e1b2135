public import CrispCore
import Foundation
import Glibc
import Metrics
import Tracing

/// One exec of a CNI plugin, as the CNI spec defines it: parameters in the environment, the network
/// configuration on stdin, the result (or a `{code, msg, details}` error) on stdout.
public struct CNIPlugin: Sendable {
  public enum Command: String, Sendable { case add = "ADD", del = "DEL", check = "CHECK" }

  /// The environment of a call, the same for every plugin of a list.
  public struct Call: Sendable {
    public var containerID: String
    /// The namespace path; empty on DEL when the namespace is already gone.
    public var netns: String
    public var ifName: String
    /// `CNI_ARGS` pairs, in order.
    public var args: [(String, String)]

    public init(containerID: String, netns: String, ifName: String, args: [(String, String)]) {
      self.containerID = containerID
      self.netns = netns
      self.ifName = ifName
      self.args = args
    }
  }

  public var binDirs: [String]
  public var timeout: Duration

  public init(binDirs: [String], timeout: Duration) {
    self.binDirs = binDirs
    self.timeout = timeout
  }

  /// The executable for a plugin `type`: the first match in `binDirs`.
  public func locate(_ type: String) throws(CrispError) -> String {
    for directory in binDirs {
      let path = FilePath.join(directory, type)
      if access(path, X_OK) == 0 { return path }
    }
    throw CrispError.failedPrecondition(
      "CNI plugin \"\(type)\" not found in \(binDirs.joined(separator: ", ")) (cni.bin_dirs); install it there")
  }

  /// Runs `type` with `config` on stdin. Returns the parsed stdout for ADD, `nil` for DEL and CHECK. Inside a
  /// traced CRI call the run is a span `cni ADD` (DEL, CHECK) naming the plugin and network.
  public func run(_ command: Command, type: String, network: String, config: JSONValue, call: Call) async throws(CrispError) -> JSONValue? {
    let attributes: () -> SpanAttributes = {
      [
        "cni.command": .string(command.rawValue), "cni.plugin.type": .string(type), "cni.network": .string(network),
        "cni.ifname": .string(call.ifName), "crisp.pod_sandbox_id": .string(call.containerID),
      ]
    }
    return try await withChildSpan("cni \(command.rawValue)", attributes: attributes()) { () async throws(CrispError) -> JSONValue? in
      try await exec(command, type: type, network: network, config: config, call: call)
    }
  }

  private func exec(_ command: Command, type: String, network: String, config: JSONValue, call: Call) async throws(CrispError) -> JSONValue? {
    let binary = try locate(type)
    let arguments = call.args.map { "\($0.0)=\($0.1)" }.joined(separator: ";")
    let environment = [
      "CNI_COMMAND=\(command.rawValue)", "CNI_CONTAINERID=\(call.containerID)", "CNI_NETNS=\(call.netns)",
      "CNI_IFNAME=\(call.ifName)", "CNI_PATH=\(binDirs.joined(separator: ":"))", "CNI_ARGS=\(arguments)",
      // Plugins run iptables, ip and tc from the PATH (portmap, bandwidth, firewall).
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]
    let what = "network \"\(network)\": plugin \"\(type)\" \(command.rawValue)"
    let dimensions = [("command", command.rawValue), ("plugin", type)]
    let start = ContinuousClock.now
    defer {
      Metrics.Timer(label: "crisp_cni_plugin_duration_seconds", dimensions: dimensions).recordNanoseconds(
        (ContinuousClock.now - start).totalNanoseconds)
    }
    let result: ProcessResult
    do {
      result = try await Subprocess.run(
        [binary], environment: environment, stdin: config.bytes, timeout: timeout, outputLimit: 1 << 20, newProcessGroup: true)
    } catch {
      Counter(label: "crisp_cni_plugin_errors_total", dimensions: dimensions).increment()
      throw error
    }
    if result.timedOut || result.status != 0 { Counter(label: "crisp_cni_plugin_errors_total", dimensions: dimensions).increment() }
    if result.timedOut {
      throw CrispError(.deadlineExceeded, "\(what) did not finish within \(timeout) (cni.plugin_timeout); it was killed")
    }
    guard result.status == 0 else {
      throw CrispError.internalError("\(what) failed: \(Self.describeFailure(result))")
    }
    guard command == .add else { return nil }
    guard let document = JSONValue.parse(result.stdout), document.object != nil else {
      throw CrispError.internalError("\(what): the plugin printed no JSON result: \(Self.excerpt(result.stdoutText))")
    }
    return document
  }

  /// The plugin's own error object, intact, or its stderr/stdout when it printed none.
  static func describeFailure(_ result: ProcessResult) -> String {
    if let error = JSONValue.parse(result.stdout), let message = error["msg"]?.string {
      var text = message
      if let details = error["details"]?.string, !details.isEmpty { text += ": \(details)" }
      if let code = error["code"]?.int { text += " (CNI error code \(code))" }
      return text
    }
    let output = result.stderrText.isEmpty ? result.stdoutText : result.stderrText
    let status = result.status > 128 ? "killed by signal \(result.status - 128)" : "exit status \(result.status)"
    return output.isEmpty ? status : "\(excerpt(output)) (\(status))"
  }

  static func excerpt(_ text: String) -> String {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    return trimmed.count > 2000 ? String(trimmed.prefix(2000)) + "…" : trimmed
  }
}
