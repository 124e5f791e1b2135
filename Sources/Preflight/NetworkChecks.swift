import Config
import CrispCore
import PodNetwork

/// The CNI configuration as the daemon loads it (``CNIConfigLoader``), and every plugin it names in
/// `cni.bin_dirs`.
struct NetworkChecks {
  var config: CrispConfig

  func run() -> [PreflightResult] {
    let load = CNIConfigLoader.load(directory: config.cni.confDir, maxConfNum: config.cni.maxConfNum)
    return [configuration(load), plugins(load)]
  }

  func configuration(_ load: CNIConfigLoad) -> PreflightResult {
    let name = "cni.config"
    if let network = load.networks.first {
      var message = "\(network.file): network \"\(network.name)\" (CNI \(network.cniVersion); \(network.pluginTypes.joined(separator: ", ")))"
      if !load.skipped.isEmpty { message += "; \(load.skipped.count) other file(s) rejected, first: \(Self.describe(load.skipped[0]))" }
      return .ok(name, message)
    }
    if let first = load.skipped.first {
      return .fail(
        name, "no valid CNI configuration in \(config.cni.confDir): \(Self.describe(first))",
        remedy: "fix or remove the file; the network add-on (or deploy/install.sh) writes a valid one")
    }
    if !config.cni.confTemplate.isEmpty {
      return .warn(
        name, "\(config.cni.confDir) has no configuration yet; cni.conf_template is rendered when kubelet reports the pod CIDR",
        remedy: "none if kubelet sets the node's pod CIDR; otherwise install a network add-on")
    }
    return .warn(
      name, "\(config.cni.confDir) has no CNI configuration yet: the node stays NotReady (NetworkPluginNotReady) until one appears",
      remedy: "install the cluster's network add-on (it writes its file there), or deploy/install.sh's bridge network for a single node")
  }

  func plugins(_ load: CNIConfigLoad) -> PreflightResult {
    let name = "cni.plugins"
    guard !load.networks.isEmpty else {
      return .ok(name, "no network configured yet: nothing to look for in \(config.cni.binDirs.joined(separator: ", "))")
    }
    let locator = CNIPlugin(binDirs: config.cni.binDirs, timeout: .seconds(1))
    var missing: [String] = []
    var found: [String] = []
    for network in load.networks {
      for type in network.pluginTypes {
        do {
          found.append(try locator.locate(type))
        } catch {
          missing.append("\"\(type)\" (\(FilePath.lastComponent(of: network.file)))")
        }
      }
    }
    guard missing.isEmpty else {
      return .fail(
        name, "not found in \(config.cni.binDirs.joined(separator: ", ")): \(missing.joined(separator: ", "))",
        remedy: "install the plugins there (Debian: containernetworking-plugins, in /usr/lib/cni) or add their directory to cni.bin_dirs")
    }
    return .ok(name, "found \(Set(found).sorted().joined(separator: ", "))")
  }

  static func describe(_ skipped: CNIConfigLoad.Skipped) -> String { "\(FilePath.lastComponent(of: skipped.file)): \(skipped.reason)" }
}
