/// A pod's security settings as they apply to its sandbox (the pause process) and bound its containers.
public struct PodSecurityContext: Sendable, Equatable, Codable {
  public var namespaceOptions = NamespaceOptions()
  /// The seccomp profile; nil when unset (then `seccompProfilePath`, the older field, decides).
  public var seccomp: SecurityProfile?
  public var seccompProfilePath = ""
  public var apparmor: SecurityProfile?
  public var selinuxOptions: SELinuxOptions?
  public var privileged = false
  /// The pause process's uid and gid when set (the CRI's int64: checked before use).
  public var runAsUser: Int64?
  public var runAsGroup: Int64?

  public init() {}
}
