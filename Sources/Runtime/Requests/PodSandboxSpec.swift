/// What RunPodSandbox asks for, as Runtime uses it: CRIServer translates the CRI's PodSandboxConfig into
/// this after checking its required fields, and translates records' stored configs the same way.
public struct PodSandboxSpec: Sendable, Equatable, Codable {
  public var metadata = PodSandboxMetadata()
  public var hostname = ""
  /// Where kubelet wants the pod's container logs (a container's log_path is relative to it).
  public var logDirectory = ""
  /// kubelet's DNS settings for the pod's resolv.conf; nil for the node's.
  public var dnsConfig: DNSConfig?
  public var portMappings: [PortMapping] = []
  public var labels: [String: String] = [:]
  public var annotations: [String: String] = [:]
  public var linux = LinuxPodSandboxSpec()

  public init() {}
}
