#if canImport(Glibc)
public import Glibc
#elseif canImport(Musl)
public import Musl
#endif

/// crisp's own version, reported as `runtime_version` by the CRI `Version` call.
public enum CrispVersion {
  public static let current = "0.1.0"
}

/// Facts about the host that decide defaults.
public enum Host {
  /// Whether PID 1 is systemd, which decides the `auto` cgroup driver (kubelet must use the same driver).
  public static var pid1IsSystemd: Bool {
    (try? FilePath.readText("/proc/1/comm")) == "systemd"
  }

  /// Whether this process holds capability number `capability` in its effective set (/proc/self/status).
  public static func hasCapability(_ capability: Int) -> Bool {
    guard let mask = capabilityMask("CapEff") else { return false }
    return mask & (1 << UInt64(capability)) != 0
  }

  /// One of this process's capability sets from /proc/self/status (`CapEff`, `CapBnd`, …), as a bit mask.
  public static func capabilityMask(_ field: String) -> UInt64? {
    guard let status = (try? FilePath.readText("/proc/self/status")) ?? nil else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
      return UInt64(String(line.dropFirst(field.count + 1)).trimmingSpaces, radix: 16)
    }
    return nil
  }

  /// The numeric group id for a group given by name or number; `nil` when no such group exists.
  public static func groupID(_ nameOrNumber: String) -> gid_t? {
    if let number = gid_t(nameOrNumber) { return number }
    var group = group()
    var result: UnsafeMutablePointer<group>? = nil
    var buffer = [CChar](repeating: 0, count: 16 * 1024)
    let status = getgrnam_r(nameOrNumber, &group, &buffer, buffer.count, &result)
    guard status == 0, result != nil else { return nil }
    return group.gr_gid
  }
}

/// What crisp reads of a process's `/proc/<pid>/stat`: the fields after the command name (which may itself
/// hold spaces and parentheses, so parsing starts after its last `)`).
public struct ProcessStat: Sendable, Equatable {
  /// R, S, D, Z, …
  public var state: Character
  public var parent: Int32
  public var group: Int32

  /// Nil when the process is gone (or its stat is unreadable).
  public static func read(_ pid: Int32) -> ProcessStat? {
    guard let text = try? FilePath.readText("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 2, let state = fields[0].first, let parent = Int32(fields[1]), let group = Int32(fields[2]) else { return nil }
    return ProcessStat(state: state, parent: parent, group: group)
  }
}
