import ArgumentParser
import CRIAPI
import Foundation
import GRPCCore
import SPDY
import SwiftProtobuf

/// Output of the list and inspect commands: a table for people, or JSON / YAML for scripts.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
  case table, json, yaml

  /// Prints `object` (JSONSerialization types) as JSON or YAML.
  static func emit(_ object: Any, _ format: OutputFormat) throws {
    switch format {
    case .yaml:
      print(YAMLText.render(object), terminator: "")
    case .json, .table:
      let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
      print(String(decoding: data, as: UTF8.self))
    }
  }
}

/// A small YAML writer for the JSON-shaped values crispctl prints (maps, lists, strings, numbers, booleans).
enum YAMLText {
  static func render(_ value: Any, indent: Int = 0) -> String {
    let pad = String(repeating: "  ", count: indent)
    switch value {
    case let map as [String: Any]:
      if map.isEmpty { return pad + "{}\n" }
      return map.keys.sorted().map { key in
        let child = map[key] ?? NSNull()
        if isScalar(child) { return "\(pad)\(quote(key)): \(scalar(child))\n" }
        if isEmptyCollection(child) { return "\(pad)\(quote(key)): \(scalar(child))\n" }
        return "\(pad)\(quote(key)):\n" + render(child, indent: indent + 1)
      }.joined()
    case let list as [Any]:
      if list.isEmpty { return pad + "[]\n" }
      return list.map { item in
        if isScalar(item) || isEmptyCollection(item) { return "\(pad)- \(scalar(item))\n" }
        // The first line of a nested block goes after the dash.
        let nested = render(item, indent: indent + 1)
        return pad + "- " + nested.dropFirst(pad.count + 2)
      }.joined()
    default:
      return pad + scalar(value) + "\n"
    }
  }

  private static func isScalar(_ value: Any) -> Bool { !(value is [String: Any]) && !(value is [Any]) }
  private static func isEmptyCollection(_ value: Any) -> Bool {
    ((value as? [String: Any])?.isEmpty ?? false) || ((value as? [Any])?.isEmpty ?? false)
  }

  private static func scalar(_ value: Any) -> String {
    switch value {
    case is NSNull: return "null"
    case let map as [String: Any] where map.isEmpty: return "{}"
    case let list as [Any] where list.isEmpty: return "[]"
    case let number as NSNumber:
      // JSON booleans come back as NSNumbers whose ObjC type is `c` (char).
      if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
      return number.stringValue
    case let text as String: return quote(text)
    default: return quote("\(value)")
    }
  }

  /// Double-quoted (JSON-style escapes are valid YAML) unless plainly a string to every YAML reader: it
  /// starts with a letter (so no number, date, `-`, `.inf` or `~`) and is none of the YAML 1.1 booleans.
  private static func quote(_ text: String) -> String {
    let plain =
      text.first?.isLetter == true && text.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || "-_./".contains($0) }
      && !["true", "false", "null", "yes", "no", "on", "off", "y", "n"].contains(text.lowercased())
    if plain { return text }
    let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])) ?? Data()
    return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
  }
}

func age(_ nanoseconds: Int64) -> String {
  let seconds = max(0, Int(Date().timeIntervalSince1970) - Int(nanoseconds / 1_000_000_000))
  switch seconds {
  case ..<60: return "\(seconds)s ago"
  case ..<3600: return "\(seconds / 60)m ago"
  case ..<86400: return "\(seconds / 3600)h ago"
  default: return "\(seconds / 86400)d ago"
  }
}

func short(_ id: String) -> String { String(id.prefix(13)) }

/// A message as the JSON protobuf's own mapping writes it (field names in lowerCamelCase, as crictl shows).
/// That mapping leaves out zero values, and zero is a state too (SANDBOX_READY, CONTAINER_CREATED), so
/// `zeroState` fills `state` in when it is absent.
func protoObject(_ message: some SwiftProtobuf.Message, zeroState: String? = nil) throws -> Any {
  let text = try message.jsonString()
  guard var object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return [:] }
  if let zeroState, object["state"] == nil { object["state"] = zeroState }
  return object
}

struct Pods: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "List pod sandboxes.")
  @OptionGroup var endpoint: Endpoint
  @Option(name: .shortAndLong, help: "Output: table, json or yaml.") var output: OutputFormat = .table
  @Flag(name: .shortAndLong, help: "Only pod ids.") var quiet = false
  @Option(name: .long, help: "Only pods with this name.") var name: String?
  @Option(name: .long, help: "Only pods in this namespace.") var namespace: String?

  func run() async throws {
    var pods = try await endpoint.withRuntime { try await $0.listPodSandbox(.init()).items }
    if let name { pods = pods.filter { $0.metadata.name == name } }
    if let namespace { pods = pods.filter { $0.metadata.namespace == namespace } }
    if quiet {
      for pod in pods { print(pod.id) }
      return
    }
    if output != .table { return try OutputFormat.emit(["items": try pods.map { try protoObject($0, zeroState: "SANDBOX_READY") }], output) }
    var rows = [["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"]]
    for pod in pods {
      rows.append([
        short(pod.id), age(pod.createdAt), pod.state == .sandboxReady ? "Ready" : "NotReady", pod.metadata.name, pod.metadata.namespace,
        "\(pod.metadata.attempt)", pod.runtimeHandler.isEmpty ? "(default)" : pod.runtimeHandler,
      ])
    }
    printTable(rows)
  }
}

struct Containers: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers (running ones unless -a).")
  @OptionGroup var endpoint: Endpoint
  @Option(name: .shortAndLong, help: "Output: table, json or yaml.") var output: OutputFormat = .table
  @Flag(name: .shortAndLong, help: "All containers, not only running ones.") var all = false
  @Flag(name: .shortAndLong, help: "Only container ids.") var quiet = false
  @Option(name: .shortAndLong, help: "Only containers of this pod sandbox.") var pod: String?

  func run() async throws {
    let sandbox = pod
    var containers = try await endpoint.withRuntime { runtime in
      try await runtime.listContainers(.with { if let sandbox { $0.filter.podSandboxID = sandbox } }).containers
    }
    if !all { containers = containers.filter { $0.state == .containerRunning } }
    if quiet {
      for container in containers { print(container.id) }
      return
    }
    if output != .table {
      return try OutputFormat.emit(["containers": try containers.map { try protoObject($0, zeroState: "CONTAINER_CREATED") }], output)
    }
    let states: [Runtime_V1_ContainerState: String] = [.containerCreated: "Created", .containerRunning: "Running", .containerExited: "Exited"]
    var rows = [["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID"]]
    for container in containers {
      rows.append([
        short(container.id), container.image.image.isEmpty ? short(container.imageRef) : container.image.image, age(container.createdAt),
        states[container.state] ?? "Unknown", container.metadata.name, "\(container.metadata.attempt)", short(container.podSandboxID),
      ])
    }
    printTable(rows)
  }
}

struct InspectContainer: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show containers' status and info.")
  @OptionGroup var endpoint: Endpoint
  @Option(name: .shortAndLong, help: "Output: json or yaml.") var output: OutputFormat = .json
  @Argument(help: "Container ids (or unique prefixes).") var ids: [String]

  func run() async throws {
    for id in ids {
      let response = try await endpoint.withRuntime {
        try await $0.containerStatus(
          .with {
            $0.containerID = id; $0.verbose = true
          })
      }
      try emitInspection(try protoObject(response.status, zeroState: "CONTAINER_CREATED"), response.info, output)
    }
  }
}

struct InspectPod: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspectp", abstract: "Show pod sandboxes' status and info, with a CNI CHECK of their networks.")
  @OptionGroup var endpoint: Endpoint
  @Option(name: .shortAndLong, help: "Output: json or yaml.") var output: OutputFormat = .json
  @Flag(help: "Skip the CNI CHECK (it runs every plugin of the pod's network).") var noNetworkCheck = false
  @Argument(help: "Pod sandbox ids (or unique prefixes).") var ids: [String]

  func run() async throws {
    for id in ids {
      let response = try await endpoint.withRuntime {
        try await $0.podSandboxStatus(
          .with {
            $0.podSandboxID = id; $0.verbose = true
          })
      }
      var extra: [String: Any] = [:]
      if !noNetworkCheck {
        let check = try await endpoint.withAdmin { try await $0.checkPodNetwork(.with { $0.podSandboxID = response.status.id }) }
        extra["networkCheck"] = check.skipped ? "skipped: \(check.message)" : check.ok ? "ok" : check.message
      }
      try emitInspection(try protoObject(response.status, zeroState: "SANDBOX_READY"), response.info, output, extra: extra)
    }
  }
}

/// A status with its verbose info, printed as crictl prints it: the runtime's `info` document is the
/// `info` object itself (not nested under its key), other info keys and `extra` sit beside its fields.
func emitInspection(_ status: Any, _ info: [String: String], _ output: OutputFormat, extra: [String: Any] = [:]) throws {
  var merged: [String: Any] = [:]
  for (key, text) in info {
    let value = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) ?? text
    if key == "info", let object = value as? [String: Any] {
      merged.merge(object) { _, new in new }
    } else {
      merged[key] = value
    }
  }
  merged.merge(extra) { _, new in new }
  try OutputFormat.emit(["status": status, "info": merged], output)
}

struct Stats: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Show containers' resource usage.")
  @OptionGroup var endpoint: Endpoint
  @Option(name: .shortAndLong, help: "Output: table, json or yaml.") var output: OutputFormat = .table
  @Option(name: .shortAndLong, help: "Only containers of this pod sandbox.") var pod: String?

  func run() async throws {
    let sandbox = pod
    // Two readings a second apart: CPU use is a rate.
    let stats = try await endpoint.withRuntime { runtime in
      let request = Runtime_V1_ListContainerStatsRequest.with { if let sandbox { $0.filter.podSandboxID = sandbox } }
      _ = try await runtime.listContainerStats(request)
      try await Task.sleep(for: .seconds(1))
      return try await runtime.listContainerStats(request).stats
    }
    if output != .table { return try OutputFormat.emit(["stats": try stats.map { try protoObject($0) }], output) }
    var rows = [["CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES"]]
    for stat in stats {
      let cpu = stat.cpu.hasUsageNanoCores ? String(format: "%.2f", Double(stat.cpu.usageNanoCores.value) / 1e7) : "-"
      rows.append([
        short(stat.attributes.id), stat.attributes.metadata.name, cpu, formatSize(stat.memory.workingSetBytes.value),
        formatSize(stat.writableLayer.usedBytes.value), "\(stat.writableLayer.inodesUsed.value)",
      ])
    }
    printTable(rows)
  }
}

struct Logs: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Print a container's log (the CRI log file on this node).")
  @OptionGroup var endpoint: Endpoint
  @Flag(name: .shortAndLong, help: "Keep printing new lines until interrupted (or the container exits).") var follow = false
  @Option(name: .long, help: "Only the last N lines.") var tail: Int?
  @Flag(name: .long, help: "Prefix each line with its timestamp.") var timestamps = false
  @Argument(help: "Container id (or unique prefix).") var id: String

  func run() async throws {
    let container = id
    let status = try await endpoint.withRuntime { try await $0.containerStatus(.with { $0.containerID = container }).status }
    guard !status.logPath.isEmpty, var handle = FileHandle(forReadingAtPath: status.logPath) else {
      FileHandle.standardError.write(
        Data("crispctl: container \(container) has no log file\(status.logPath.isEmpty ? "" : " at \(status.logPath)")\n".utf8))
      throw ExitCode(1)
    }
    var reader = CRILogReader(timestamps: timestamps)
    let initial = reader.lines(handle.readDataToEndOfFile())
    for line in tail.map({ Array(initial.suffix(max(0, $0))) }) ?? initial { write(line) }
    guard follow else { return }
    var inode = Self.inode(status.logPath)
    while true {
      let more = handle.readDataToEndOfFile()
      if !more.isEmpty {
        for line in reader.lines(more) { write(line) }
        continue
      }
      // kubelet rotated the log: the old file is read to its end above, then the new one is followed.
      if let current = Self.inode(status.logPath), current != inode, let fresh = FileHandle(forReadingAtPath: status.logPath) {
        handle = fresh
        inode = current
        continue
      }
      let state = try await endpoint.withRuntime { try await $0.containerStatus(.with { $0.containerID = container }).status.state }
      if state == .containerExited {
        // What it wrote between the last read and its exit.
        for line in reader.lines(handle.readDataToEndOfFile()) { write(line) }
        return
      }
      try await Task.sleep(for: .milliseconds(250))
    }
  }

  private static func inode(_ path: String) -> UInt64? {
    var info = stat()
    return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
  }

  private func write(_ line: CRILogReader.Line) {
    (line.stream == "stderr" ? FileHandle.standardError : FileHandle.standardOutput).write(Data(line.text.utf8))
  }
}

struct Exec: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a command in a running container (through crisp's streaming server, as kubectl exec does).")
  @OptionGroup var endpoint: Endpoint
  @Flag(name: .shortAndLong, help: "Pass standard input to the command.") var interactive = false
  @Flag(name: .shortAndLong, help: "Give the command a terminal.") var tty = false
  @Argument(help: "Container id (or unique prefix).") var id: String
  @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String]

  func run() async throws {
    let container = id, cmd = command.first == "--" ? Array(command.dropFirst()) : command
    let stdin = interactive, terminal = tty
    guard !cmd.isEmpty else { throw ValidationError("no command given") }
    let url = try await endpoint.withRuntime { runtime in
      try await runtime.exec(
        .with {
          $0.containerID = container
          $0.cmd = cmd
          $0.stdin = stdin
          $0.stdout = true
          $0.stderr = !terminal
          $0.tty = terminal
        }
      ).url
    }
    let code = try ExecSession(url: url, stdin: stdin, tty: terminal).run()
    throw ExitCode(code)
  }
}

/// One exec over SPDY from the terminal: standard input on a thread of its own, output and the final status
/// read on the calling thread. With a tty, the local terminal is put in raw mode for the session.
struct ExecSession {
  let url: String
  let stdin: Bool
  let tty: Bool

  func run() throws -> Int32 {
    let client = try SPDYClient(url: url, protocols: ["v4.channel.k8s.io"])
    guard client.upgraded else {
      FileHandle.standardError.write(Data("crispctl: exec: \(client.responseHead)\n".utf8))
      return 1
    }
    let error = client.openStream("error")
    let input = stdin ? client.openStream("stdin") : nil
    let output = client.openStream("stdout")
    let errors = tty ? nil : client.openStream("stderr")
    let resize = tty ? client.openStream("resize") : nil
    var saved = termios()
    let raw = tty && isatty(0) != 0
    if raw {
      tcgetattr(0, &saved)
      var mode = saved
      cfmakeraw(&mode)
      tcsetattr(0, TCSANOW, &mode)
    }
    defer { if raw { tcsetattr(0, TCSANOW, &saved) } }
    if let resize {
      var size = winsize()
      if ioctl(1, UInt(TIOCGWINSZ), &size) == 0 {
        client.write(resize, "{\"Width\":\(size.ws_col),\"Height\":\(size.ws_row)}")
      }
    }
    if let input {
      // Data frames share no compression state with the reading side, so this thread may send them.
      let fd = client.fd
      Thread {
        var buffer = [UInt8](repeating: 0, count: 32 * 1024)
        while true {
          let n = read(0, &buffer, buffer.count)
          if n <= 0 { break }
          guard SPDYClient.send(SPDYFramer.dataFrame(streamID: input, flags: 0, payload: Array(buffer[0..<n])), on: fd) else { return }
        }
        SPDYClient.send(SPDYFramer.dataFrame(streamID: input, flags: SPDYFrame.flagFin, payload: []), on: fd)
      }.start()
    }
    while !client.finished.contains(error) && !client.closed {
      client.readSome(timeout: 1)
      try client.process()
      for stream in [output, errors].compactMap({ $0 }) {
        guard let data = client.received[stream], !data.isEmpty else { continue }
        (stream == output ? FileHandle.standardOutput : FileHandle.standardError).write(Data(data))
        client.received[stream] = []
      }
    }
    let status = (try? JSONSerialization.jsonObject(with: Data(client.received[error] ?? []))) as? [String: Any] ?? [:]
    if status["status"] as? String == "Success" { return 0 }
    let causes = (status["details"] as? [String: Any])?["causes"] as? [[String: Any]]
    if let code = causes?.first(where: { $0["reason"] as? String == "ExitCode" })?["message"] as? String, let value = Int32(code) {
      return value
    }
    if let message = status["message"] as? String { FileHandle.standardError.write(Data("crispctl: exec: \(message)\n".utf8)) }
    return 1
  }
}
