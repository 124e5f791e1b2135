public import PodNetwork

/// A pod's interface counters at `timestamp` (loopback left out); the default interface is eth0, else the
/// first one.
public struct NetworkUsage: Sendable, Equatable {
  public var timestamp: Int64
  public var interfaces: [InterfaceStatistics]
  public var defaultInterface: InterfaceStatistics?

  public init(timestamp: Int64, interfaces: [InterfaceStatistics], defaultInterface: InterfaceStatistics?) {
    self.timestamp = timestamp
    self.interfaces = interfaces
    self.defaultInterface = defaultInterface
  }
}
