public import CrispCore
import Foundation

/// One usable network configuration from `conf_dir`: a plugin list (a `.conf` file is treated as a list of
/// one plugin, as libcni does).
public struct CNINetworkConfig: Sendable, Equatable, Encodable {
  /// The file it came from.
  public var file: String
  public var name: String
  public var cniVersion: String
  /// The plugin `type`s in invocation order.
  public var pluginTypes: [String]
  /// Each plugin's configuration object, as written, in invocation order.
  public var plugins: [JSONValue]

  enum CodingKeys: String, CodingKey { case file, name, cniVersion, pluginTypes }
}

/// What the last look at `conf_dir` found.
public struct CNIConfigLoad: Sendable, Equatable, Encodable {
  public var directory: String
  /// The networks in use: the first `max_conf_num` valid files, in lexical order.
  public var networks: [CNINetworkConfig]
  /// Files that were not used, and why, for `Status` verbose info (an operator debugging NetworkReady).
  public var skipped: [Skipped]

  public struct Skipped: Sendable, Equatable, Encodable {
    public var file: String
    public var reason: String
  }

  public var isReady: Bool { !networks.isEmpty }

  /// The `NetworkReady` message when not ready: names the directory and, if files were rejected, the first
  /// reason, so the operator sees why without turning on verbose output.
  public var notReadyMessage: String {
    var message = "no valid CNI network configuration in \(directory)"
    if let first = skipped.first { message += " (\(FilePath.lastComponent(of: first.file)): \(first.reason))" }
    return message
  }
}

/// Reads the CNI configuration directory the way libcni-based runtimes do: `.conflist`, `.conf` and `.json`
/// files in lexical order, each checked, the first `maxConfNum` valid ones used.
public enum CNIConfigLoader {
  /// CNI spec versions whose configurations and results crisp understands.
  public static let supportedVersions: Set<String> = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

  public static func load(directory: String, maxConfNum: Int) -> CNIConfigLoad {
    var result = CNIConfigLoad(directory: directory, networks: [], skipped: [])
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: directory)
    } catch {
      return result
    }
    let candidates = names.filter { $0.hasSuffix(".conflist") || $0.hasSuffix(".conf") || $0.hasSuffix(".json") }.sorted()
    for name in candidates {
      let path = FilePath.join(directory, name)
      do {
        let network = try parse(file: path)
        if result.networks.count < maxConfNum { result.networks.append(network) }
      } catch {
        result.skipped.append(.init(file: path, reason: error.message))
      }
    }
    return result
  }

  /// Parses and checks one configuration file.
  public static func parse(file path: String) throws(CrispError) -> CNINetworkConfig {
    let read: [UInt8]?
    do {
      read = try FilePath.read(path, limit: 1 << 20)
    } catch {
      throw CrispError.invalidArgument("cannot read: \(error)")
    }
    guard let bytes = read else { throw CrispError.notFound("no such file") }
    return try parse(bytes, isList: path.hasSuffix(".conflist"), file: path)
  }

  /// Parses and checks one configuration: a plugin list, or (`isList` false) a single plugin.
  public static func parse(_ bytes: [UInt8], isList: Bool, file: String) throws(CrispError) -> CNINetworkConfig {
    guard let document = JSONValue.parse(bytes), document.object != nil else {
      throw CrispError.invalidArgument("not a JSON object")
    }
    guard let name = document["name"]?.string, !name.isEmpty else {
      throw CrispError.invalidArgument("missing \"name\"")
    }
    let version = document["cniVersion"]?.string ?? (isList ? "" : "0.1.0")
    guard supportedVersions.contains(version) else {
      throw CrispError.invalidArgument(version.isEmpty ? "missing \"cniVersion\"" : "unsupported cniVersion \"\(version)\"")
    }
    if isList {
      guard let plugins = document["plugins"]?.array, !plugins.isEmpty else {
        throw CrispError.invalidArgument("\"plugins\" must be a non-empty list")
      }
      var types: [String] = []
      for (index, plugin) in plugins.enumerated() {
        guard plugin.object != nil, let type = plugin["type"]?.string, !type.isEmpty else {
          throw CrispError.invalidArgument("plugins[\(index)] has no \"type\"")
        }
        guard !type.contains("/"), type != ".", type != ".." else {
          throw CrispError.invalidArgument("plugins[\(index)]: type \"\(type)\" is not a plugin name")
        }
        types.append(type)
      }
      return CNINetworkConfig(file: file, name: name, cniVersion: version, pluginTypes: types, plugins: plugins)
    }
    if document["plugins"] != nil {
      throw CrispError.invalidArgument("a plugin list belongs in a .conflist file")
    }
    guard let type = document["type"]?.string, !type.isEmpty else {
      throw CrispError.invalidArgument("missing \"type\"")
    }
    guard !type.contains("/"), type != ".", type != ".." else {
      throw CrispError.invalidArgument("type \"\(type)\" is not a plugin name")
    }
    return CNINetworkConfig(file: file, name: name, cniVersion: version, pluginTypes: [type], plugins: [document])
  }
}
