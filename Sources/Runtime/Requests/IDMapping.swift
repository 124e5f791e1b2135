/// `length` ids from `containerID` inside a user namespace mapped to ids from `hostID` outside it.
public struct IDMapping: Sendable, Equatable, Codable {
  public var hostID: UInt32
  public var containerID: UInt32
  public var length: UInt32

  public init(hostID: UInt32, containerID: UInt32, length: UInt32) {
    self.hostID = hostID
    self.containerID = containerID
    self.length = length
  }
}
