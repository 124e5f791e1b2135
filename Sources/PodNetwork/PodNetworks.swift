public import Config
public import CrispCore
import Foundation
public import Logging
import Synchronization

/// What a pod asks of the network, taken from its sandbox config by the runtime.
public struct PodNetworkRequest: Sendable {
  public struct PortMapping: Sendable, Equatable {
    public var hostPort: Int
    public var containerPort: Int
    /// `tcp`, `udp` or `sctp`.
    public var proto: String
    public var hostIP: String
    public init(hostPort: Int, containerPort: Int, proto: String, hostIP: String) {
      self.hostPort = hostPort
      self.containerPort = containerPort
      self.proto = proto
      self.hostIP = hostIP
    }
  }

  public var sandboxID: String
  public var podName: String
  public var podNamespace: String
  public var podUID: String
  public var netns: String
  /// Every mapping of the pod; only those with a host port reach the plugins.
  public var portMappings: [PortMapping]
  public var dnsServers: [String]
  public var dnsSearches: [String]
  public var dnsOptions: [String]
  public var annotations: [String: String]
  public var cgroupParent: String

  public init(
    sandboxID: String, podName: String, podNamespace: String, podUID: String, netns: String, portMappings: [PortMapping] = [],
    dnsServers: [String] = [], dnsSearches: [String] = [], dnsOptions: [String] = [], annotations: [String: String] = [:],
    cgroupParent: String = ""
  ) {
    self.sandboxID = sandboxID
    self.podName = podName
    self.podNamespace = podNamespace
    self.podUID = podUID
    self.netns = netns
    self.portMappings = portMappings
    self.dnsServers = dnsServers
    self.dnsSearches = dnsSearches
    self.dnsOptions = dnsOptions
    self.annotations = annotations
    self.cgroupParent = cgroupParent
  }
}

/// A pod's attachment to its networks, saved next to the sandbox before the first plugin runs and after
/// every ADD, so teardown after a daemon restart (or a crash mid-ADD) runs DEL with the same configuration,
/// arguments and `prevResult` as setup, even if `conf_dir` changed meanwhile.
public struct PodNetworkAttachment: Codable, Sendable, Equatable {
  public struct Network: Codable, Sendable, Equatable {
    public var name: String
    public var cniVersion: String
    public var ifName: String
    public var plugins: [JSONValue]
    /// How many plugins (from the front) ADD may have touched, so DEL undoes those and no others. Saved as
    /// all of them before ADD starts (a daemon killed mid-ADD cannot know how far it got) and narrowed
    /// when a plugin fails.
    public var attempted: Int
    /// The list's final result; nil until ADD of the whole list succeeded.
    public var result: JSONValue?
  }

  public var containerID: String
  public var netns: String
  public var args: [[String]]
  public var runtimeConfig: JSONValue
  public var networks: [Network]

  var call: [(String, String)] { args.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil } }

  public static func read(_ path: String) throws(CrispError) -> PodNetworkAttachment? {
    let bytes: [UInt8]?
    do {
      bytes = try FilePath.read(path, limit: 16 << 20)
    } catch {
      throw CrispError.internalError("read \(path): \(error)")
    }
    guard let bytes else { return nil }
    // crisp's own JSON reader: the plugins' configurations and results keep their numbers' text, so DEL
    // after a restart gets exactly what ADD got.
    guard let document = JSONValue.parse(bytes), let attachment = PodNetworkAttachment(json: document) else {
      throw CrispError.internalError("\(path) is unreadable: not a saved CNI attachment")
    }
    return attachment
  }

  func write(_ path: String) throws(CrispError) {
    do {
      try AtomicFile.write(json.bytes, to: path, mode: 0o600)
    } catch {
      throw CrispError.internalError("write \(path): \(error)")
    }
  }
}

/// Sets pods up on, and takes them off, the CNI networks of `conf_dir`, running each list's plugins in
/// order (ADD, CHECK) or in reverse (DEL) the way libcni does.
public final class PodNetworks: Sendable {
  public let watcher: CNIConfigWatcher
  let logger: Logger
  /// The `[cni]` settings and the plugin runner built from them, swapped together by a reload.
  private let settings: Mutex<(config: CrispConfig.CNI, plugin: CNIPlugin)>

  /// The `[cni]` settings now.
  public var config: CrispConfig.CNI { settings.withLock { $0.config } }
  /// The plugin runner now; a call reads it once and keeps it to its end.
  var plugin: CNIPlugin { settings.withLock { $0.plugin } }

  public init(config: CrispConfig.CNI, watcher: CNIConfigWatcher, logger: Logger) {
    self.watcher = watcher
    self.logger = logger
    settings = Mutex((config, CNIPlugin(binDirs: config.binDirs, timeout: config.pluginTimeout.duration)))
  }

  /// Takes new `bin_dirs`, `plugin_timeout` and `ip_pref` (a configuration reload) for the next calls.
  /// `conf_dir` and `max_conf_num` belong to the directory watch, fixed at start-up.
  public func apply(_ config: CrispConfig.CNI) {
    let plugin = CNIPlugin(binDirs: config.binDirs, timeout: config.pluginTimeout.duration)
    settings.withLock { $0 = (config, plugin) }
  }

  /// The network's readiness, for RunPodSandbox to refuse early with the reason.
  public func requireReady() throws(CrispError) -> CNIConfigLoad {
    let load = watcher.current
    guard load.isReady else { throw CrispError.failedPrecondition("the pod network is not ready: \(load.notReadyMessage)") }
    return load
  }

  /// Runs ADD for every network; returns the pod's IPs, the primary first. The attachment is saved to
  /// `cacheFile` before any plugin runs. On failure the caller runs ``detach(cacheFile:)``.
  public func attach(_ request: PodNetworkRequest, podCIDRs: [String], cacheFile: String) async throws(CrispError) -> [String] {
    // One version of the settings for the whole call, whatever a reload does meanwhile.
    let (config, plugin) = settings.withLock { ($0.config, $0.plugin) }
    let load = try requireReady()
    let runtimeConfig = try Self.runtimeConfig(for: request, podCIDRs: podCIDRs)
    let args = [
      ["IgnoreUnknown", "1"], ["K8S_POD_NAMESPACE", request.podNamespace], ["K8S_POD_NAME", request.podName],
      ["K8S_POD_INFRA_CONTAINER_ID", request.sandboxID], ["K8S_POD_UID", request.podUID],
    ]
    var attachment = PodNetworkAttachment(
      containerID: request.sandboxID, netns: request.netns, args: args, runtimeConfig: runtimeConfig,
      networks: load.networks.enumerated().map { index, network in
        .init(
          name: network.name, cniVersion: network.cniVersion, ifName: "eth\(index)", plugins: network.plugins,
          attempted: network.plugins.count, result: nil)
      })
    try attachment.write(cacheFile)
    for index in attachment.networks.indices {
      let network = attachment.networks[index]
      let call = CNIPlugin.Call(containerID: request.sandboxID, netns: request.netns, ifName: network.ifName, args: attachment.call)
      var previous: JSONValue?
      for (position, pluginConfig) in network.plugins.enumerated() {
        let stdin = Self.pluginInput(pluginConfig, network: network, previous: previous, runtimeConfig: runtimeConfig)
        do {
          previous = try await plugin.run(.add, type: pluginConfig["type"]?.string ?? "", network: network.name, config: stdin, call: call)
        } catch {
          // Later networks and plugins never ran: DEL must not be asked of them.
          for later in attachment.networks.indices where later > index { attachment.networks[later].attempted = 0 }
          // A plugin that could not even be found never ran, so it has nothing to undo (and a DEL of it
          // would fail the same way, keeping the pod from ever being removed).
          let ran = (try? plugin.locate(pluginConfig["type"]?.string ?? "")) != nil
          attachment.networks[index].attempted = ran ? position + 1 : position
          try? attachment.write(cacheFile)
          throw error
        }
      }
      attachment.networks[index].result = previous
      try attachment.write(cacheFile)
    }
    guard let primary = attachment.networks.first, let document = primary.result else { return [] }
    let result = try CNIResult.parse(document)
    return Self.orderedIPs(result.addresses(onInterface: primary.ifName).map(\.ip), preference: config.ipPref)
  }

  /// Runs DEL for every network in the saved attachment (last network first, plugins in reverse) and then
  /// forgets it. Nothing saved: nothing to do. A plugin failure keeps the file so the next call retries.
  public func detach(cacheFile: String) async throws(CrispError) {
    let plugin = self.plugin
    guard let attachment = try PodNetworkAttachment.read(cacheFile) else { return }
    // A namespace that is gone (a reboot; or only a stale file is left) is passed as empty: plugins then
    // release what they hold outside it (IPAM leases, host-side rules) and skip the rest, as the CNI spec asks.
    let netns = NetworkNamespace.isPinned(attachment.netns) ? attachment.netns : ""
    // Every plugin gets its DEL even when one fails, so one broken plugin does not strand what the others
    // hold; the first failure is reported (and the attachment kept for the next try). One network after
    // another: the CNI spec forbids parallel operations for one container.
    var firstFailure: CrispError?
    for network in attachment.networks.reversed() {
      let call = CNIPlugin.Call(containerID: attachment.containerID, netns: netns, ifName: network.ifName, args: attachment.call)
      let previous = Self.versionAtLeast(network.cniVersion, "0.4.0") ? network.result : nil
      for pluginConfig in network.plugins.prefix(network.attempted).reversed() {
        let stdin = Self.pluginInput(pluginConfig, network: network, previous: previous, runtimeConfig: attachment.runtimeConfig)
        do {
          _ = try await plugin.run(.del, type: pluginConfig["type"]?.string ?? "", network: network.name, config: stdin, call: call)
        } catch {
          logger.warning("CNI DEL failed", metadata: ["sandbox": "\(attachment.containerID)", "error": "\(error.message)"])
          if firstFailure == nil { firstFailure = error }
        }
      }
    }
    if let firstFailure { throw firstFailure }
    do {
      try FilePath.remove(cacheFile)
    } catch {
      throw CrispError.internalError("remove \(cacheFile): \(error)")
    }
  }

  /// Plugins that do nothing but apply runtime capabilities.
  static let capabilityOnlyPlugins: Set<String> = ["portmap", "bandwidth"]

  /// Runs CHECK for every network whose version has it (0.4.0 and later): the plugins verify that what ADD
  /// set up is still in place. Throws the first plugin's complaint.
  public func check(cacheFile: String) async throws(CrispError) {
    let plugin = self.plugin
    guard let attachment = try PodNetworkAttachment.read(cacheFile) else {
      throw CrispError.failedPrecondition("the pod has no network attachment to check")
    }
    for network in attachment.networks where Self.versionAtLeast(network.cniVersion, "0.4.0") {
      guard let result = network.result else { throw CrispError.failedPrecondition("network \"\(network.name)\" was never set up completely") }
      let call = CNIPlugin.Call(containerID: attachment.containerID, netns: attachment.netns, ifName: network.ifName, args: attachment.call)
      for pluginConfig in network.plugins {
        // The meta plugins that only act on runtime capabilities (port mappings, bandwidth) have nothing to
        // verify when the pod asked for none of them, and some (bandwidth 1.1) crash on such a CHECK.
        let type = pluginConfig["type"]?.string ?? ""
        let declared = (pluginConfig["capabilities"]?.object ?? [:]).filter { $0.value.bool == true }.map(\.key)
        if Self.capabilityOnlyPlugins.contains(type) && !declared.contains(where: { attachment.runtimeConfig[$0] != nil }) { continue }
        let stdin = Self.pluginInput(pluginConfig, network: network, previous: result, runtimeConfig: attachment.runtimeConfig)
        _ = try await plugin.run(.check, type: pluginConfig["type"]?.string ?? "", network: network.name, config: stdin, call: call)
      }
    }
  }

  // MARK: Plugin input

  /// The plugin's stdin: its own configuration with the list's name and version, the previous plugin's
  /// result, and the runtime settings it declared capabilities for (and only those).
  static func pluginInput(_ pluginConfig: JSONValue, network: PodNetworkAttachment.Network, previous: JSONValue?, runtimeConfig: JSONValue)
    -> JSONValue
  {
    var input = pluginConfig
    input["name"] = .string(network.name)
    input["cniVersion"] = .string(network.cniVersion)
    if let previous { input["prevResult"] = previous }
    var selected: [String: JSONValue] = [:]
    for (capability, enabled) in pluginConfig["capabilities"]?.object ?? [:] where enabled.bool == true {
      if let value = runtimeConfig[capability] { selected[capability] = value }
    }
    input["runtimeConfig"] = selected.isEmpty ? nil : .object(selected)
    return input
  }

  /// Every runtime setting a plugin may declare a capability for. Bad pod input (a bandwidth annotation
  /// that is not a quantity) is refused here, before any plugin runs.
  public static func runtimeConfig(for request: PodNetworkRequest, podCIDRs: [String]) throws(CrispError) -> JSONValue {
    var config: [String: JSONValue] = [:]
    let mappings = request.portMappings.filter { $0.hostPort > 0 }
    for (index, mapping) in request.portMappings.enumerated() where mapping.hostPort > 0 {
      guard mapping.hostPort <= 65535, (1...65535).contains(mapping.containerPort) else {
        throw CrispError.invalidArgument(
          "config.port_mappings[\(index)]: host_port \(mapping.hostPort) / container_port \(mapping.containerPort) is not a pair of TCP/UDP ports (1-65535)"
        )
      }
    }
    if !mappings.isEmpty {
      config["portMappings"] = .array(
        mappings.map { mapping in
          var entry: [String: JSONValue] = [
            "hostPort": .number(JSONNumber(mapping.hostPort)), "containerPort": .number(JSONNumber(mapping.containerPort)),
            "protocol": .string(mapping.proto),
          ]
          if !mapping.hostIP.isEmpty { entry["hostIP"] = .string(mapping.hostIP) }
          return .object(entry)
        })
    }
    if !request.dnsServers.isEmpty || !request.dnsSearches.isEmpty || !request.dnsOptions.isEmpty {
      config["dns"] = .object([
        "servers": .array(request.dnsServers.map(JSONValue.string)), "searches": .array(request.dnsSearches.map(JSONValue.string)),
        "options": .array(request.dnsOptions.map(JSONValue.string)),
      ])
    }
    var bandwidth: [String: JSONValue] = [:]
    for (annotation, key) in [("kubernetes.io/ingress-bandwidth", "ingress"), ("kubernetes.io/egress-bandwidth", "egress")] {
      guard let text = request.annotations[annotation] else { continue }
      guard let bits = ResourceQuantity.parse(text), bits >= 1000, bits <= 1_000_000_000_000_000 else {
        throw CrispError.invalidArgument(
          "config.annotations[\"\(annotation)\"]: \"\(text)\" is not a bandwidth between 1k and 1P bits per second (e.g. \"10M\")")
      }
      bandwidth[key + "Rate"] = .number(JSONNumber(bits))
      // As kubelet's dockershim and containerd do: a burst large enough never to be the limit.
      bandwidth[key + "Burst"] = .number(JSONNumber(UInt32.max))
    }
    if !bandwidth.isEmpty { config["bandwidth"] = .object(bandwidth) }
    if !podCIDRs.isEmpty {
      config["ipRanges"] = .array(podCIDRs.map { .array([.object(["subnet": .string($0)])]) })
    }
    if !request.cgroupParent.isEmpty { config["cgroupPath"] = .string(request.cgroupParent) }
    config["io.kubernetes.cri.pod-annotations"] = .object(request.annotations.mapValues(JSONValue.string))
    return .object(config)
  }

  /// The pod's IPs with the preferred family's first address in front.
  static func orderedIPs(_ ips: [String], preference: CrispConfig.CNI.IPPreference) -> [String] {
    let wantV6: Bool
    switch preference {
    case .cni: return ips
    case .ipv4: wantV6 = false
    case .ipv6: wantV6 = true
    }
    guard let index = ips.firstIndex(where: { $0.contains(":") == wantV6 }) else { return ips }
    var ordered = ips
    let primary = ordered.remove(at: index)
    return [primary] + ordered
  }

  static func versionAtLeast(_ version: String, _ minimum: String) -> Bool {
    let parts = { (text: String) in text.split(separator: ".").map { Int($0) ?? 0 } }
    return parts(version).lexicographicallyPrecedes(parts(minimum)) == false
  }
}

/// Kubernetes resource quantities ("10M", "1.5Gi", "500k"), as used by the bandwidth annotations.
public enum ResourceQuantity {
  /// The value, rounded down to a whole number; nil for text that is not a quantity.
  public static func parse(_ text: String) -> Int64? {
    let suffixes: [(String, Double)] = [
      ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776), ("Pi", 1_125_899_906_842_624),
      ("Ei", 1_152_921_504_606_846_976), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18), ("m", 1e-3),
    ]
    var number = text
    var multiplier = 1.0
    for (suffix, value) in suffixes where text.hasSuffix(suffix) {
      number = String(text.dropLast(suffix.count))
      multiplier = value
      break
    }
    guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), number.filter({ $0 == "." }).count <= 1,
      let value = Double(number)
    else { return nil }
    let result = value * multiplier
    guard result.isFinite, result < 9.2e18 else { return nil }
    return Int64(result)
  }
}

extension PodNetworkAttachment {
  init?(json: JSONValue) {
    guard let containerID = json["containerID"]?.string, let netns = json["netns"]?.string,
      let args = json["args"]?.array, let networks = json["networks"]?.array
    else { return nil }
    self.containerID = containerID
    self.netns = netns
    var pairs: [[String]] = []
    for arg in args {
      guard let parts = arg.array else { return nil }
      let strings = parts.compactMap(\.string)
      guard strings.count == parts.count else { return nil }
      pairs.append(strings)
    }
    self.args = pairs
    runtimeConfig = json["runtimeConfig"] ?? .object([:])
    var list: [Network] = []
    for network in networks {
      guard let name = network["name"]?.string, let version = network["cniVersion"]?.string, let ifName = network["ifName"]?.string,
        let plugins = network["plugins"]?.array, let attempted = network["attempted"]?.int, attempted >= 0
      else { return nil }
      let result = network["result"].flatMap { $0 == .null ? nil : $0 }
      list.append(
        Network(name: name, cniVersion: version, ifName: ifName, plugins: plugins, attempted: min(attempted, plugins.count), result: result))
    }
    self.networks = list
  }

  var json: JSONValue {
    .object([
      "containerID": .string(containerID), "netns": .string(netns),
      "args": .array(args.map { .array($0.map(JSONValue.string)) }),
      "runtimeConfig": runtimeConfig,
      "networks": .array(
        networks.map { network in
          var entry: [String: JSONValue] = [
            "name": .string(network.name), "cniVersion": .string(network.cniVersion), "ifName": .string(network.ifName),
            "plugins": .array(network.plugins), "attempted": .number(JSONNumber(network.attempted)),
          ]
          if let result = network.result { entry["result"] = result }
          return .object(entry)
        }),
    ])
  }
}
