public import CrispCore
import Glibc

/// Renders `conf_template` when kubelet reports the node's pod CIDRs (UpdateRuntimeConfig), so a node with
/// no network add-on still gets a working bridge network, as containerd does.
///
/// The template is the conflist text with placeholders (containerd's names, without Go template logic):
/// `{{.PodCIDR}}` the first CIDR; `{{.PodCIDRRanges}}` host-local `ranges` for all of them, as JSON
/// (`[[{"subnet":"10.1.0.0/24"}],[{"subnet":"fd00::/64"}]]`); `{{.Routes}}` default routes for each
/// family present, as JSON (`[{"dst":"0.0.0.0/0"}]`).
public enum CNIConfTemplate {
  /// The file written in `conf_dir`; a lexically early name so it wins over later files.
  public static let fileName = "10-crisp-net.conflist"

  public static func render(_ template: String, podCIDRs: [String]) throws(CrispError) -> String {
    guard let first = podCIDRs.first else { throw CrispError.invalidArgument("runtime_config.network_config.pod_cidr is empty") }
    let ranges = JSONValue.array(podCIDRs.map { .array([.object(["subnet": .string($0)])]) })
    var routes: [JSONValue] = []
    if podCIDRs.contains(where: { !$0.contains(":") }) { routes.append(.object(["dst": .string("0.0.0.0/0")])) }
    if podCIDRs.contains(where: { $0.contains(":") }) { routes.append(.object(["dst": .string("::/0")])) }
    var text = template
    for (placeholder, value) in [
      ("{{.PodCIDR}}", first), ("{{.PodCIDRRanges}}", String(decoding: ranges.bytes, as: UTF8.self)),
      ("{{.Routes}}", String(decoding: JSONValue.array(routes).bytes, as: UTF8.self)),
    ] {
      text = text.replacing(placeholder, with: value)
    }
    if let start = text.firstRange(of: "{{") {
      let action = text[start.lowerBound...].prefix(40)
      throw CrispError.failedPrecondition(
        "cni.conf_template: unsupported template action \"\(action)\"; use {{.PodCIDR}}, {{.PodCIDRRanges}} or {{.Routes}}")
    }
    return text
  }

  /// Validates each CIDR the way a plugin would need it.
  public static func parseCIDRs(_ field: String) throws(CrispError) -> [String] {
    let cidrs = field.split(separator: ",").map { String($0).filter { $0 != " " } }.filter { !$0.isEmpty }
    for cidr in cidrs {
      let parts = cidr.split(separator: "/", omittingEmptySubsequences: false)
      guard parts.count == 2, let bits = Int(parts[1]), bits >= 0, bits <= (parts[0].contains(":") ? 128 : 32),
        IPAddress.isValid(String(parts[0]))
      else {
        throw CrispError.invalidArgument("runtime_config.network_config.pod_cidr: \"\(cidr)\" is not a CIDR")
      }
    }
    return cidrs
  }
}

/// Textual IP address checks.
public enum IPAddress {
  public static func isValid(_ text: String) -> Bool {
    var v4 = in_addr()
    var v6 = in6_addr()
    return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
  }
}
