import CrispCore
import Glibc

extension Host {
  /// Whether the running kernel is at least `major.minor`.
  static func kernelAtLeast(_ major: Int, _ minor: Int) -> Bool {
    var name = utsname()
    guard uname(&name) == 0 else { return false }
    let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
    guard parts.count == 2 else { return false }
    return (parts[0], parts[1]) >= (major, minor)
  }
}
