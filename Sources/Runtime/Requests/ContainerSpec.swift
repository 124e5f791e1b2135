/// What CreateContainer asks for, as Runtime uses it: CRIServer translates the CRI's ContainerConfig into
/// this after checking its required fields, and translates records' stored configs the same way.
public struct ContainerSpec: Sendable, Equatable, Codable {
  public var metadata = ContainerMetadata()
  public var image = ImageSpec()
  public var command: [String] = []
  public var args: [String] = []
  public var workingDir = ""
  /// Environment variables in the order given (a later one replaces an earlier of the same name).
  public var envs: [EnvironmentVariable] = []
  public var mounts: [MountRequest] = []
  public var devices: [DeviceRequest] = []
  /// Fully-qualified CDI device names (`vendor.com/class=name`, CRI `CDI_devices`); with the
  /// `cdi.k8s.io/*` annotations, resolved against the node's CDI specs at CreateContainer.
  public var cdiDevices: [String] = []
  public var labels: [String: String] = [:]
  public var annotations: [String: String] = [:]
  /// Relative to the sandbox's log directory; empty for no log.
  public var logPath = ""
  public var stdin = false
  public var stdinOnce = false
  public var tty = false
  public var linux = LinuxContainerSpec()
  public var stopSignal = StopSignal.runtimeDefault

  public init() {}
}
