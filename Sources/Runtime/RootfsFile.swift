import CLinux
import Glibc

/// Reads a small regular file inside a container's root filesystem, resolving the path as the container
/// would (symlinks stay inside the root): an image's /etc/passwd must not lead crisp to a host file, a FIFO
/// or a device.
enum RootfsFile {
  static func read(rootfs: String, path: String, limit: Int = 4 << 20) -> String? {
    readBytes(rootfs: rootfs, path: path, limit: limit).map { String(decoding: $0, as: UTF8.self) }
  }

  /// The file's bytes, nil when it is missing, not a regular file or larger than `limit`.
  static func readBytes(rootfs: String, path: String, limit: Int = 4 << 20) -> [UInt8]? {
    let root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard root >= 0 else { return nil }
    defer { close(root) }
    let relative = path.hasPrefix("/") ? String(path.dropFirst()) : path
    let fd = crisp_openat2(
      root, relative, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0,
      UInt64(CRISP_RESOLVE_IN_ROOT | CRISP_RESOLVE_NO_MAGICLINKS))
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size >= 0, info.st_size <= limit else { return nil }
    var bytes = [UInt8](repeating: 0, count: info.st_size)
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeMutableBytes { buffer -> Int in
        guard let base = buffer.baseAddress else { return 0 }
        return Glibc.read(fd, base + offset, buffer.count - offset)
      }
      if n <= 0 { break }
      offset += n
    }
    return Array(bytes[0..<offset])
  }
}
