import CrispCore
import Glibc
import Images

/// A private temporary directory for a probe (a test overlay mount, a probe container's bundle): made with
/// mkdtemp under the nearest existing ancestor of a path and removed — after detaching anything mounted
/// below it — when the probe is done, so `crisp check` leaves the node as it found it.
enum ScratchDirectory {
  /// Runs `body` with a new directory `<ancestor>/.crisp-check-XXXXXX`, where `ancestor` is `near` or its
  /// closest existing parent (a root directory not created yet is probed on the filesystem it would be
  /// created on), then removes the directory.
  static func with<T>(near: String, _ body: (String) async -> T) async throws(SystemError) -> T {
    var template = Array(FilePath.join(existingAncestor(near), ".crisp-check-XXXXXX").utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }) else {
      throw SystemError.last("mkdtemp", existingAncestor(near))
    }
    let path = String(cString: made)
    defer {
      Mounts.unmountAll(under: path)
      try? FilePath.removeTree(path)
    }
    return await body(path)
  }

  /// `path` or its closest parent that is a directory.
  static func existingAncestor(_ path: String) -> String {
    var base = path
    while !FilePath.isDirectory(base) && base != "/" && !base.isEmpty { base = FilePath.directory(of: base) }
    return base.isEmpty ? "/" : base
  }
}
