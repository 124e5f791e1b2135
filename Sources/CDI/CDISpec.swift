/// One CDI spec file: a vendor's devices of one kind (`vendor/class`), the edits each device needs, and
/// edits common to all of them. ``CDISpecParser`` makes these and checks them.
public struct CDISpec: Sendable, Equatable, Decodable {
  public var version: String
  public var kind: String
  public var annotations: [String: String]
  public var devices: [Device]
  /// Applied once to a container that gets any device of this spec.
  public var containerEdits: CDIContainerEdits

  public init(version: String, kind: String, devices: [Device], containerEdits: CDIContainerEdits = .init(), annotations: [String: String] = [:]) {
    self.version = version
    self.kind = kind
    self.devices = devices
    self.containerEdits = containerEdits
    self.annotations = annotations
  }

  public init(from decoder: any Decoder) throws {
    let c = try CDIKey.container(decoder, allowed: ["cdiVersion", "kind", "annotations", "devices", "containerEdits"])
    version = try c.decode(String.self, forKey: .init("cdiVersion"))
    kind = try c.decode(String.self, forKey: .init("kind"))
    annotations = try c.decodeIfPresent([String: String].self, forKey: .init("annotations")) ?? [:]
    devices = try c.decodeIfPresent([Device].self, forKey: .init("devices")) ?? []
    containerEdits = try c.decodeIfPresent(CDIContainerEdits.self, forKey: .init("containerEdits")) ?? .init()
  }

  public struct Device: Sendable, Equatable, Decodable {
    public var name: String
    public var annotations: [String: String]
    public var containerEdits: CDIContainerEdits

    public init(name: String, containerEdits: CDIContainerEdits, annotations: [String: String] = [:]) {
      self.name = name
      self.containerEdits = containerEdits
      self.annotations = annotations
    }

    public init(from decoder: any Decoder) throws {
      let c = try CDIKey.container(decoder, allowed: ["name", "annotations", "containerEdits"])
      name = try c.decode(String.self, forKey: .init("name"))
      annotations = try c.decodeIfPresent([String: String].self, forKey: .init("annotations")) ?? [:]
      containerEdits = try c.decodeIfPresent(CDIContainerEdits.self, forKey: .init("containerEdits")) ?? .init()
    }
  }
}
