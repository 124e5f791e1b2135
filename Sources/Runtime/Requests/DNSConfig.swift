/// The resolv.conf kubelet wants for a pod (an empty one means the node's).
public struct DNSConfig: Sendable, Equatable, Codable {
  public var servers: [String] = []
  public var searches: [String] = []
  public var options: [String] = []

  public init(servers: [String] = [], searches: [String] = [], options: [String] = []) {
    self.servers = servers
    self.searches = searches
    self.options = options
  }
}
