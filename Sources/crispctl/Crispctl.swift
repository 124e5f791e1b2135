import ArgumentParser
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
    subcommands: [Version.self, Info.self])
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
  func withRuntime<T: Sendable>(_ body: @Sendable (Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T {
    let transport = try HTTP2ClientTransport.Posix(target: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext)
    do {
      return try await withGRPCClient(transport: transport) { client in
        try await body(Runtime_V1_RuntimeService.Client(wrapping: client))
      }
    } catch let error as RPCError {
      FileHandle.standardError.write(Data("crispctl: \(socketPath): \(error.code): \(error.message)\n".utf8))
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
      ["name": handler.name, "features": [
        "recursiveReadOnlyMounts": handler.features.recursiveReadOnlyMounts,
        "userNamespaces": handler.features.userNamespaces,
      ]] as [String: Any]
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
