/// A volume kubelet asks to mount into a container: a host path, or (with `image`) an image's root
/// filesystem; checked and resolved by ``RuntimeManager/resolveMounts``.
public struct MountRequest: Sendable, Equatable, Codable {
  public var containerPath = ""
  public var hostPath = ""
  public var readonly = false
  public var selinuxRelabel = false
  public var propagation = Propagation.private
  /// The pod's mappings when the mount is to be idmapped into its user namespace.
  public var uidMappings: [IDMapping] = []
  public var gidMappings: [IDMapping] = []
  public var recursiveReadOnly = false
  /// An image volume's image; nil for a host path.
  public var image: ImageSpec?
  public var imageSubPath = ""

  /// Whether this mount is an image volume (an image named, rather than a host path).
  public var isImageVolume: Bool { !(image?.image.isEmpty ?? true) }

  /// How mounts propagate between the host and the container. `unrecognized` keeps a newer kubelet's value.
  public enum Propagation: Sendable, Equatable, Codable {
    case `private`
    case hostToContainer
    case bidirectional
    case unrecognized(Int)

    /// The number a container record keeps (the CRI's, as records from earlier versions hold it).
    init(recorded value: Int) {
      switch value {
      case 0: self = .private
      case 1: self = .hostToContainer
      case 2: self = .bidirectional
      default: self = .unrecognized(value)
      }
    }

    var recorded: Int {
      switch self {
      case .private: return 0
      case .hostToContainer: return 1
      case .bidirectional: return 2
      case .unrecognized(let value): return value
      }
    }
  }

  public init(containerPath: String = "", hostPath: String = "", readonly: Bool = false) {
    self.containerPath = containerPath
    self.hostPath = hostPath
    self.readonly = readonly
  }
}
