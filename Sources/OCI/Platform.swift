public struct Platform: Codable, Sendable, Hashable, CustomStringConvertible {
  public var architecture: String
  public var os: String
  public var variant: String?
  public var osVersion: String?

  enum CodingKeys: String, CodingKey {
    case architecture, os, variant
    case osVersion = "os.version"
  }

  public init(architecture: String, os: String, variant: String? = nil) {
    self.architecture = architecture
    self.os = os
    self.variant = variant
  }

  public var description: String {
    [os, architecture, variant].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "/")
  }

  /// The platform of this machine, in the OCI/Go naming (`linux/amd64`, `linux/arm64/v8`).
  public static var host: Platform {
    #if arch(x86_64)
    return Platform(architecture: "amd64", os: "linux")
    #elseif arch(arm64)
    return Platform(architecture: "arm64", os: "linux", variant: "v8")
    #elseif arch(arm)
    return Platform(architecture: "arm", os: "linux", variant: "v7")
    #else
    return Platform(architecture: "unknown", os: "linux")
    #endif
  }

  /// Whether an image built for `self` runs here. A missing variant matches (most indexes omit it for
  /// amd64); arm64 treats "v8" and none as the same.
  public func matches(_ host: Platform) -> Bool {
    guard os == host.os, architecture == host.architecture else { return false }
    let mine = variant ?? "", theirs = host.variant ?? ""
    if mine.isEmpty || mine == theirs { return true }
    return architecture == "arm64" && (mine == "v8" && theirs.isEmpty)
  }
}
