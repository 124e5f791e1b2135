/// The signal that stops a container: the image's (or SIGTERM) by default, else the one kubelet names.
public enum StopSignal: Sendable, Equatable, Codable {
  case runtimeDefault
  /// A signal by its name, "SIGTERM" say.
  case named(String)
  /// A value from a newer kubelet: reported back as sent, and stopped with the default.
  case unrecognized(Int)
}
