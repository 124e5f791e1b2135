import ArgumentParser
import ConfigCommands
import CRIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf

/// `crispctl`: the operator's CLI over crisp's CRI socket.
@main
struct Crispctl: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "crispctl",
    abstract: "Operate crisp over its CRI socket.",
    subcommands: [
      Version.self, Info.self, Pods.self, Containers.self, InspectContainer.self, InspectPod.self, Logs.self, Exec.self, Stats.self,
      Images.self, Pull.self, RemoveImage.self, InspectImage.self, ConfigCommand.self,
    ])
}

/// Where to connect: `--address`, else `$CRISP_ADDRESS`, else the default socket.
struct Endpoint: ParsableArguments {
  @Option(name: .long, help: "CRI socket (path or unix:// URL); default $CRISP_ADDRESS or /run/crisp/crisp.sock.")
  var address: String?

  var socketPath: String {
    let raw = address ?? ProcessInfo.processInfo.environment["CRISP_ADDRESS"] ?? "/run/crisp/crisp.sock"
    return raw.hasPrefix("unix://") ? String(raw.dropFirst("unix://".count)) : raw
  }

  /// Runs `body` with a RuntimeService client; a failed call prints the gRPC status and exits non-zero.
  func withRuntime<T: Sendable>(_ body: @Sendable (Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T
  {
    try await withClient { try await body(Runtime_V1_RuntimeService.Client(wrapping: $0)) }
  }

  /// Runs `body` with an AdminService client.
  func withAdmin<T: Sendable>(_ body: @Sendable (Crisp_Admin_V1_AdminService.Client<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T
  {
    try await withClient { try await body(Crisp_Admin_V1_AdminService.Client(wrapping: $0)) }
  }

  /// Runs `body` with an ImageService client.
  func withImages<T: Sendable>(_ body: @Sendable (Runtime_V1_ImageService.Client<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T {
    try await withClient { try await body(Runtime_V1_ImageService.Client(wrapping: $0)) }
  }

  private func withClient<T: Sendable>(_ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T {
    let transport = try HTTP2ClientTransport.Posix(
      target: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext,
      config: .defaults { $0.http2.maxFrameSize = 1 << 20 })
    do {
      return try await withGRPCClient(transport: transport) { client in try await body(client) }
    } catch let error as RPCError {
      // A transport failure is explained from the socket itself (missing, refused, permission), not with
      // the transport's error chain.
      if error.code == .unavailable, let reason = SocketDiagnosis.reason(socketPath) {
        FileHandle.standardError.write(Data("crispctl: cannot connect to crisp at unix://\(socketPath): \(reason)\n".utf8))
      } else {
        FileHandle.standardError.write(Data("crispctl: \(socketPath): \(error.code): \(error.message)\n".utf8))
      }
      throw ExitCode(1)
    }
  }
}

struct Version: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Print the runtime's name and versions.")
  @OptionGroup var endpoint: Endpoint

  func run() async throws {
    let response = try await endpoint.withRuntime { try await $0.version(.with { $0.version = "0.1.0" }) }
    print("Version:  \(response.version)")
    print("RuntimeName:  \(response.runtimeName)")
    print("RuntimeVersion:  \(response.runtimeVersion)")
    print("RuntimeApiVersion:  \(response.runtimeApiVersion)")
  }
}

struct Info: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Print the runtime status with verbose info, as JSON.")
  @OptionGroup var endpoint: Endpoint

  func run() async throws {
    let response = try await endpoint.withRuntime { try await $0.status(.with { $0.verbose = true }) }
    // The info values are JSON documents themselves: embed them as such, not as strings.
    var object: [String: Any] = [:]
    var conditions: [[String: Any]] = []
    for condition in response.status.conditions {
      conditions.append(["type": condition.type, "status": condition.status, "reason": condition.reason, "message": condition.message])
    }
    object["status"] = ["conditions": conditions]
    object["runtimeHandlers"] = response.runtimeHandlers.map { handler in
      [
        "name": handler.name,
        "features": [
          "recursiveReadOnlyMounts": handler.features.recursiveReadOnlyMounts,
          "userNamespaces": handler.features.userNamespaces,
        ],
      ] as [String: Any]
    }
    object["features"] = ["supplementalGroupsPolicy": response.features.supplementalGroupsPolicy]
    var info: [String: Any] = [:]
    for (key, value) in response.info {
      info[key] = (try? JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed])) ?? value
    }
    object["info"] = info
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
  }
}

struct Images: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List, import and export images.", subcommands: [ListImages.self, ImportImages.self, ExportImages.self],
    defaultSubcommand: ListImages.self)
}

struct ListImages: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "list", abstract: "List images.")
  @OptionGroup var endpoint: Endpoint
  @Option(name: .shortAndLong, help: "Output: table, json or yaml.") var output: OutputFormat = .table
  @Flag(name: .shortAndLong, help: "Only image ids.") var quiet = false
  @Argument(help: "Only this image (any reference form).") var image: String?

  func run() async throws {
    let filter = image
    let images = try await endpoint.withImages { client in
      try await client.listImages(
        .with { request in
          if let filter { request.filter.image.image = filter }
        }
      ).images
    }
    if quiet {
      for image in images { print(image.id) }
      return
    }
    if output != .table {
      let list = images.map { image -> [String: Any] in
        ["id": image.id, "repoTags": image.repoTags, "repoDigests": image.repoDigests, "size": image.size, "pinned": image.pinned]
      }
      return try OutputFormat.emit(["images": list], output)
    }
    var rows = [["IMAGE", "TAG", "IMAGE ID", "SIZE", "PINNED"]]
    for image in images {
      let id = String(image.id.dropFirst("sha256:".count).prefix(13))
      let tags = image.repoTags.isEmpty ? ["<none>:<none>"] : image.repoTags
      for tag in tags {
        let split = tag.lastIndex(of: ":").map { (String(tag[..<$0]), String(tag[tag.index(after: $0)...])) } ?? (tag, "")
        rows.append([split.0, split.1, id, formatSize(image.size), image.pinned ? "true" : "false"])
      }
    }
    printTable(rows)
  }
}

struct Pull: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Pull an image through crisp's configured mirrors, showing progress.")
  @OptionGroup var endpoint: Endpoint
  @Option(name: .long, help: "Registry credentials as USERNAME[:PASSWORD].") var creds: String?
  @Flag(name: .shortAndLong, help: "No progress display.") var quiet = false
  @Argument(help: "The image reference.") var image: String

  func run() async throws {
    let reference = image
    let parts = creds.map { $0.split(separator: ":", maxSplits: 1).map(String.init) } ?? []
    let start = ContinuousClock.now
    let progress = quiet ? nil : Progress("pull")
    // crisp's admin PullImage streams progress; the pull itself is the one CRI PullImage does.
    let id: (String, UInt64) = try await endpoint.withAdmin { client in
      try await client.pullImage(
        .with {
          $0.image = reference
          if let user = parts.first { $0.username = user }
          if parts.count > 1 { $0.password = parts[1] }
        }
      ) { response in
        var id = ""
        var fetched: UInt64 = 0
        for try await update in response.messages {
          progress?.update(
            update.bytesDone, total: update.bytesTotal, detail: "\(update.layersDone)/\(update.layersTotal) layers", force: !update.imageID.isEmpty)
          if !update.imageID.isEmpty { id = update.imageID }
          fetched = max(fetched, update.bytesFetched)
        }
        return (id, fetched)
      }
    }
    progress?.finish()
    let elapsed = ContinuousClock.now - start
    print(Self.summary(id: id.0, bytesFetched: id.1, elapsed: elapsed))
  }

  /// docker's words: "Downloaded newer image" when any blob came from a registry, else "up to date".
  static func summary(id: String, bytesFetched: UInt64, elapsed: Duration) -> String {
    let took = elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .abbreviated))
    if bytesFetched > 0 { return "Downloaded newer image for \(id) (\(formatSize(bytesFetched)) in \(took))" }
    return "Image is up to date for \(id) (\(took))"
  }
}

struct RemoveImage: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "rmi", abstract: "Remove images (every tag of each).")
  @OptionGroup var endpoint: Endpoint
  @Argument(help: "Image references or ids.") var images: [String]

  func run() async throws {
    for image in images {
      try await endpoint.withImages { client in
        _ = try await client.removeImage(.with { $0.image.image = image })
      }
      print("Deleted: \(image)")
    }
  }
}

struct InspectImage: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "inspecti", abstract: "Show an image's status and config as JSON.")
  @OptionGroup var endpoint: Endpoint
  @Argument(help: "The image reference or id.") var image: String

  func run() async throws {
    let reference = image
    let response = try await endpoint.withImages { client in
      try await client.imageStatus(
        .with {
          $0.image.image = reference
          $0.verbose = true
        })
    }
    guard response.hasImage else {
      FileHandle.standardError.write(Data("crispctl: no such image: \(reference)\n".utf8))
      throw ExitCode(1)
    }
    let image = response.image
    var object: [String: Any] = [
      "status": [
        "id": image.id, "repoTags": image.repoTags, "repoDigests": image.repoDigests, "size": image.size,
        "uid": image.hasUid ? image.uid.value as Any : NSNull(), "username": image.username, "pinned": image.pinned,
      ] as [String: Any]
    ]
    if let info = response.info["info"], let parsed = try? JSONSerialization.jsonObject(with: Data(info.utf8)) {
      object["info"] = parsed
    }
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
  }
}

func formatSize(_ bytes: UInt64) -> String {
  let units = ["B", "kB", "MB", "GB", "TB"]
  var value = Double(bytes)
  var unit = 0
  while value >= 1000 && unit < units.count - 1 {
    value /= 1000
    unit += 1
  }
  return unit == 0 ? "\(bytes)B" : String(format: "%.3g%@", value, units[unit])
}

func printTable(_ rows: [[String]]) {
  guard let header = rows.first else { return }
  var widths = header.map(\.count)
  for row in rows { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) } }
  for row in rows {
    let line = row.enumerated().map { index, cell in
      index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 3, withPad: " ", startingAt: 0)
    }.joined()
    print(line)
  }
}

/// A one-line progress display on standard error: bytes, total, rate.
final class Progress: @unchecked Sendable {
  private let label: String
  private let start = ContinuousClock.now
  private var last = ContinuousClock.now - .seconds(1)
  private let interactive = isatty(2) != 0

  init(_ label: String) { self.label = label }

  func update(_ bytes: UInt64, total: UInt64?, detail: String? = nil, force: Bool = false) {
    guard force || ContinuousClock.now - last > .milliseconds(200) else { return }
    last = .now
    let seconds = max(
      Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds), 0.001)
    let rate = formatSize(UInt64(min(Double(bytes) / seconds, 1.8e19))) + "/s"
    var line = "\(label): \(formatSize(bytes))"
    if let total, total > 0 {
      let fraction = min(1, Double(bytes) / Double(total))
      let width = 30
      let filled = Int(fraction * Double(width))
      line =
        "\(label): [\(String(repeating: "=", count: filled))\(String(repeating: " ", count: width - filled))] \(formatSize(bytes))/\(formatSize(total))"
    }
    if let detail { line += " \(detail)" }
    line += " \(rate)"
    FileHandle.standardError.write(Data((interactive ? "\r\(line)\u{1b}[K" : "\(line)\n").utf8))
  }

  func finish() {
    if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
  }
}

struct ImportImages: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "import", abstract: "Import images from a docker-save or OCI archive.")
  @OptionGroup var endpoint: Endpoint
  @Argument(help: "The archive (tar).") var file: String

  func run() async throws {
    guard let handle = FileHandle(forReadingAtPath: file) else {
      FileHandle.standardError.write(Data("crispctl: cannot open \(file)\n".utf8))
      throw ExitCode(1)
    }
    let total = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? UInt64) ?? 0
    let progress = Progress("import")
    let response = try await endpoint.withAdmin { client in
      try await client.importImages(requestProducer: { writer in
        var sent: UInt64 = 0
        while true {
          let chunk = handle.readData(ofLength: 1 << 20)
          if chunk.isEmpty { break }
          try await writer.write(.with { $0.data = chunk })
          sent += UInt64(chunk.count)
          progress.update(sent, total: total)
        }
        progress.update(sent, total: total, force: true)
        progress.finish()
      })
    }
    for image in response.images {
      print("imported \(image.id) \((image.repoTags.isEmpty ? image.repoDigests : image.repoTags).joined(separator: " "))")
    }
  }
}

struct ExportImages: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export", abstract: "Export images to an OCI archive (also readable by docker load and ctr import).")
  @OptionGroup var endpoint: Endpoint
  @Option(name: .shortAndLong, help: "The archive to write.") var output: String
  @Argument(help: "Image references or ids.") var images: [String]

  func run() async throws {
    guard FileManager.default.createFile(atPath: output, contents: nil), let handle = FileHandle(forWritingAtPath: output) else {
      FileHandle.standardError.write(Data("crispctl: cannot create \(output)\n".utf8))
      throw ExitCode(1)
    }
    let names = images
    let progress = Progress("export")
    let written = try await endpoint.withAdmin { client in
      try await client.exportImages(.with { $0.images = names }) { response in
        var total: UInt64 = 0
        var bytes: UInt64 = 0
        for try await message in response.messages {
          if message.totalSize > 0 { total = message.totalSize }
          try handle.write(contentsOf: message.data)
          bytes += UInt64(message.data.count)
          progress.update(bytes, total: total)
        }
        progress.update(bytes, total: total, force: true)
        progress.finish()
        return bytes
      }
    }
    try handle.close()
    print("exported \(names.joined(separator: " ")) to \(output) (\(formatSize(written)))")
  }
}
