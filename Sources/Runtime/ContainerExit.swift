import CrispCore

/// How a container ended, from the exit file its shim wrote.
public struct ContainerExit: Sendable, Equatable {
  public var code: Int32
  public var signal: Int32
  public var oomKilled: Bool
  public var finishedAt: Int64

  /// Parses the shim's `key=value` exit file; nil while the container runs (no file yet).
  public static func read(directory: String) -> ContainerExit? {
    guard let text = try? FilePath.readText(directory + "/exit") else { return nil }
    var values: [String: Int64] = [:]
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: "=", maxSplits: 1)
      if parts.count == 2, let value = Int64(parts[1]) { values[String(parts[0])] = value }
    }
    guard let code = values["exit_code"] else { return nil }
    return ContainerExit(
      code: Int32(truncatingIfNeeded: code), signal: Int32(truncatingIfNeeded: values["signal"] ?? 0),
      oomKilled: values["oom_killed"] == 1, finishedAt: values["finished_at"] ?? 0)
  }
}
