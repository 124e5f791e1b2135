/// One line of /proc/<pid>/mountinfo: the one parser for the mount table, which crisp reads to find mount
/// points, their propagation and the cgroup hierarchies.
public struct MountInfo: Sendable, Equatable {
  /// The directory of the filesystem mounted here (field 4): `/` unless a subtree was bound.
  public var root: String
  public var mountPoint: String
  /// `shared:N`, `master:N`, `propagate_from:N`, `unbindable`.
  public var optionalFields: [Substring]
  public var fsType: Substring
  public var source: Substring
  public var superOptions: Substring

  /// The entries of a mountinfo text; malformed lines are skipped.
  public static func parse(_ text: String) -> [MountInfo] {
    var entries: [MountInfo] = []
    for line in text.split(separator: "\n") {
      // Not omitting empty fields: a mount with an empty source still has its source field.
      let fields = line.split(separator: " ", omittingEmptySubsequences: false)
      guard fields.count > 6, let separator = fields.firstIndex(of: "-"), separator >= 6, separator + 3 < fields.count else { continue }
      entries.append(
        MountInfo(
          root: unescape(fields[3]), mountPoint: unescape(fields[4]), optionalFields: Array(fields[6..<separator]),
          fsType: fields[separator + 1], source: fields[separator + 2], superOptions: fields[separator + 3]))
    }
    return entries
  }

  /// This process's mount table now; empty when it cannot be read.
  public static func current() -> [MountInfo] {
    guard let text = try? FilePath.readText("/proc/self/mountinfo") else { return [] }
    return parse(text)
  }

  /// mountinfo escapes space, tab, newline and backslash as three octal digits.
  public static func unescape(_ text: Substring) -> String {
    guard text.contains("\\") else { return String(text) }
    var bytes: [UInt8] = []
    let utf8 = Array(text.utf8)
    var index = 0
    while index < utf8.count {
      if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
        let value = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
      {
        bytes.append(value)
        index += 4
      } else {
        bytes.append(utf8[index])
        index += 1
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
