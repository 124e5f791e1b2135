import Runtime

/// `.with { ... }` for Runtime's request types, as the tests built the CRI's messages.
protocol Buildable {
  init()
}

extension Buildable {
  static func with(_ body: (inout Self) -> Void) -> Self {
    var value = Self()
    body(&value)
    return value
  }
}

extension ContainerSpec: Buildable {}
extension PodSandboxSpec: Buildable {}
extension CapabilityRequest: Buildable {
  init() { self.init(addCapabilities: []) }
}
