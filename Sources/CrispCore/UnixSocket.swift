#if canImport(Glibc)
public import Glibc
#elseif canImport(Musl)
public import Musl
#endif

/// Unix-domain socket plumbing shared by the CRI server and the shim client.
public enum UnixSocket {
  /// Fills a `sockaddr_un` for `path` and calls `body` with it. Paths longer than `sun_path` fail.
  public static func withAddress<T>(
    _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T
  ) throws(SystemError) -> T {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard bytes.count < capacity else { throw SystemError("socket address", path, errno: ENAMETOOLONG) }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
    return withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
    }
  }

  /// Connects a stream socket to `path`, also when the path is longer than a socket address allows (it is
  /// then reached through its directory's open descriptor). Returns the connected fd.
  public static func connect(to path: String) throws(SystemError) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw .last("socket", path) }
    var directoryFD: Int32 = -1
    defer { if directoryFD >= 0 { close(directoryFD) } }
    var address = path
    if path.utf8.count >= 100 {
      directoryFD = open(FilePath.directory(of: path), 0o10000000 | O_DIRECTORY | O_CLOEXEC)  // O_PATH
      guard directoryFD >= 0 else {
        close(fd)
        throw .last("open", FilePath.directory(of: path))
      }
      address = "/proc/self/fd/\(directoryFD)/\(FilePath.lastComponent(of: path))"
    }
    let result: Int32
    do {
      result = try withAddress(address) { Glibc.connect(fd, $0, $1) }
    } catch {
      close(fd)
      throw error
    }
    guard result == 0 else {
      let error = SystemError.last("connect", path)
      close(fd)
      throw error
    }
    return fd
  }

  /// Whether some process accepts connections on `path` right now. A socket file left behind by a killed
  /// process refuses connections; only a live listener accepts.
  public static func isLive(_ path: String) -> Bool {
    guard let fd = try? connect(to: path) else { return false }
    close(fd)
    return true
  }

  /// Creates a listening stream socket at `path` with exactly `mode` and group `gid`. The socket is made in
  /// a private (0700) directory beside `path`, given its owner and mode there, and only then renamed into
  /// place: it is never reachable with wider permissions, and the process umask is never touched.
  public static func listen(at path: String, mode: mode_t, gid: gid_t, backlog: Int32 = 1024) throws(SystemError) -> Int32 {
    let staging = "\(FilePath.directory(of: path))/.\(FilePath.lastComponent(of: path)).\(getpid())"
    try FilePath.removeTree(staging)
    guard mkdir(staging, 0o700) == 0 else { throw .last("mkdir", staging) }
    defer { try? FilePath.removeTree(staging) }
    let temporary = staging + "/socket"
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw .last("socket", path) }
    var ok = false
    defer { if !ok { close(fd) } }
    let bound = try withAddress(temporary) { address, length in bind(fd, address, length) }
    guard bound == 0 else { throw .last("bind", temporary) }
    guard chown(temporary, 0, gid) == 0 else { throw .last("chown", temporary) }
    guard chmod(temporary, mode) == 0 else { throw .last("chmod", temporary) }
    guard Glibc.listen(fd, backlog) == 0 else { throw .last("listen", path) }
    guard rename(temporary, path) == 0 else { throw .last("rename", "\(temporary) -> \(path)") }
    ok = true
    return fd
  }

  /// Sends a datagram to systemd's notification socket (`$NOTIFY_SOCKET`), e.g. `READY=1` once the CRI
  /// socket serves, so `Type=notify` units order kubelet after crisp correctly. Does nothing outside systemd.
  public static func notifySystemd(_ state: String) {
    guard let raw = getenv("NOTIFY_SOCKET") else { return }
    var path = String(cString: raw)
    guard !path.isEmpty else { return }
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let abstract = path.hasPrefix("@")
    if abstract { path = "\0" + path.dropFirst() }
    let message = Array(state.utf8)
    _ = try? withAddress(path) { address, length in
      // An abstract address has no terminating NUL in its length.
      let effective = abstract ? length - 1 : length
      return message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, effective) }
    }
  }
}
