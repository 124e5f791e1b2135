/// One variable of a container's environment.
public struct EnvironmentVariable: Sendable, Equatable, Codable {
  public var key: String
  public var value: String

  public init(key: String, value: String) {
    self.key = key
    self.value = value
  }
}
