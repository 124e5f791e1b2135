#if canImport(Glibc)
public import Glibc
#elseif canImport(Musl)
public import Musl
#endif

/// Plain-string path helpers and the few file operations every layer needs, without Foundation's
/// `FileManager` (whose errors lose the errno we want to report).
public enum FilePath {
  public static func directory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
  }

  public static func lastComponent(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
  }

  public static func join(_ base: String, _ component: String) -> String {
    if base.hasSuffix("/") { return base + component }
    return base + "/" + component
  }

  /// Creates `path` and any missing parents. Existing directories keep their mode; new ones get `mode`
  /// exactly (not narrowed by the umask).
  public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
    var current = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/", omittingEmptySubsequences: true) {
      current += "/" + component
      if mkdir(current, mode) == 0 {
        guard chmod(current, mode) == 0 else { throw .last("chmod", current) }
        continue
      }
      let err = errno
      guard err == EEXIST else { throw SystemError("mkdir", current, errno: err) }
      var info = stat()
      guard stat(current, &info) == 0 else { throw .last("stat", current) }
      guard info.st_mode & S_IFMT == S_IFDIR else { throw SystemError("mkdir", current, errno: ENOTDIR) }
    }
  }

  /// The whole content of a file, or `nil` when it does not exist.
  public static func read(_ path: String, limit: Int = 64 << 20) throws(SystemError) -> [UInt8]? {
    let fd = retryingOnInterrupt { open(path, O_RDONLY | O_CLOEXEC) }
    if fd < 0 {
      if errno == ENOENT { return nil }
      throw .last("open", path)
    }
    defer { close(fd) }
    return try readAll(fd, path: path, limit: limit)
  }

  /// Like ``read(_:limit:)``, for files an operator or another program puts in place (configuration,
  /// hosts.toml, CDI specs): a FIFO, device or directory there is refused (`EINVAL`, with the call named
  /// "not a regular file") instead of blocking the reader forever or reading without end. The check is
  /// on the opened descriptor, so a file swapped after a directory listing cannot get past it.
  public static func readRegularFile(_ path: String, limit: Int) throws(SystemError) -> [UInt8]? {
    let fd = retryingOnInterrupt { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
    if fd < 0 {
      if errno == ENOENT { return nil }
      throw .last("open", path)
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw .last("fstat", path) }
    guard info.st_mode & S_IFMT == S_IFREG else { throw SystemError("not a regular file:", path, errno: EINVAL) }
    return try readAll(fd, path: path, limit: limit)
  }

  private static func readAll(_ fd: Int32, path: String, limit: Int) throws(SystemError) -> [UInt8] {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    while true {
      let n = chunk.withUnsafeMutableBytes { buffer in
        retryingOnInterrupt { Glibc.read(fd, buffer.baseAddress, buffer.count) }
      }
      if n < 0 { throw .last("read", path) }
      if n == 0 { break }
      result.append(contentsOf: chunk[0..<n])
      if result.count > limit { throw SystemError("read", path, errno: EFBIG) }
    }
    return result
  }

  /// The content of a small text file, e.g. under /proc or /sys, without its trailing newline.
  public static func readText(_ path: String) throws(SystemError) -> String? {
    guard let bytes = try read(path) else { return nil }
    var text = String(decoding: bytes, as: UTF8.self)
    while text.hasSuffix("\n") { text.removeLast() }
    return text
  }

  /// The names in a directory (without "." and "..").
  public static func listDirectory(_ path: String) throws(SystemError) -> [String] {
    guard let dir = opendir(path) else { throw .last("opendir", path) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }

  public static func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
  }

  public static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
  }

  /// Removes a file; a missing file is not an error (removal is always meant idempotently here).
  public static func remove(_ path: String) throws(SystemError) {
    if unlink(path) != 0 && errno != ENOENT { throw .last("unlink", path) }
  }
}
