/// A container's security settings, checked against its pod's (``SecurityChecks``) before use.
public struct ContainerSecurityContext: Sendable, Equatable, Codable {
  public var capabilities = CapabilityRequest()
  public var privileged = false
  public var namespaceOptions = NamespaceOptions()
  public var selinuxOptions: SELinuxOptions?
  /// The process's uid and gid when set (the CRI's int64: checked before use).
  public var runAsUser: Int64?
  public var runAsGroup: Int64?
  public var runAsUsername = ""
  public var readonlyRootfs = false
  public var supplementalGroups: [Int64] = []
  /// Whether the image's groups for the user are added to `supplementalGroups` (CRI Merge) or not (Strict).
  public var mergeImageGroups = true
  public var noNewPrivs = false
  public var maskedPaths: [String] = []
  public var readonlyPaths: [String] = []
  public var seccomp: SecurityProfile?
  public var apparmor: SecurityProfile?
  /// The older fields, used when `apparmor` / `seccomp` are unset.
  public var apparmorProfile = ""
  public var seccompProfilePath = ""

  public init() {}
}
