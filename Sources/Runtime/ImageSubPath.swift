import CLinux
import CrispCore
import Glibc

/// `image_sub_path` of an image volume: checked as text in the plan, then resolved inside the image's view
/// the way the container would see it, so that a hostile image cannot point the bind mount outside itself.
enum ImageSubPath {
  /// PATH_MAX: no path the kernel could open is longer.
  static let maxLength = 4096

  /// The sub path normalised (no `.` or empty components), or an INVALID_ARGUMENT naming `field` when it is
  /// absolute, has a `..` component, a NUL byte, or is too long.
  static func normalized(_ text: String, field: String) throws(CrispError) -> String {
    guard text.utf8.count <= maxLength else {
      throw CrispError.invalidArgument("\(field) is \(text.utf8.count) bytes long (at most \(maxLength))")
    }
    guard !text.utf8.contains(0) else { throw CrispError.invalidArgument("\(field) contains a NUL byte") }
    guard !text.hasPrefix("/") else {
      throw CrispError.invalidArgument("\(field) \"\(text)\" must be relative to the image's root")
    }
    var components: [Substring] = []
    for component in text.split(separator: "/") where component != "." {
      guard component != ".." else { throw CrispError.invalidArgument("\(field) \"\(text)\" must not contain \"..\"") }
      components.append(component)
    }
    return components.joined(separator: "/")
  }

  /// The host path of the directory `subPath` inside the view mounted at `root`. Symbolic links resolve as
  /// inside the image (an absolute or `..` target stays in its root: `RESOLVE_IN_ROOT`), never through
  /// /proc magic links or into another mount; the result must be a directory. Errors name `field`.
  static func resolve(_ subPath: String, in root: String, image: String, field: String) throws(CrispError) -> String {
    guard !subPath.isEmpty else { return root }
    let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard rootFD >= 0 else { throw CrispError.from(SystemError.last("open image view", root)) }
    defer { close(rootFD) }
    let resolve = UInt64(CRISP_RESOLVE_IN_ROOT | CRISP_RESOLVE_NO_MAGICLINKS | CRISP_RESOLVE_NO_XDEV)
    let fd = crisp_openat2(rootFD, subPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, resolve)
    guard fd >= 0 else {
      let error = errno
      let what = "\(field) \"\(subPath)\""
      switch error {
      case ENOENT: throw CrispError.invalidArgument("\(what): no such directory in image \(image)")
      case ENOTDIR: throw CrispError.invalidArgument("\(what): not a directory in image \(image)")
      case ELOOP: throw CrispError.invalidArgument("\(what): too many symbolic links in image \(image)")
      case EXDEV: throw CrispError.invalidArgument("\(what) leaves image \(image)")
      case ENAMETOOLONG: throw CrispError.invalidArgument("\(what): a name is too long")
      default: throw CrispError.from(SystemError("open", "\(root)/\(subPath)", errno: error))
      }
    }
    defer { close(fd) }
    // Where it landed, as the kernel names it: inside the view by construction, and checked again.
    let landed = try path(of: fd, what: "\(root)/\(subPath)")
    let rootPath = try path(of: rootFD, what: root)
    guard landed == rootPath || landed.hasPrefix(rootPath == "/" ? "/" : rootPath + "/") else {
      throw CrispError.invalidArgument("\(field) \"\(subPath)\" leaves image \(image)")
    }
    return landed
  }

  /// The path the kernel gives an open descriptor (`/proc/self/fd/N`).
  private static func path(of fd: Int32, what: String) throws(CrispError) -> String {
    var buffer = [CChar](repeating: 0, count: maxLength + 1)
    let length = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count)
    guard length > 0 else { throw CrispError.from(SystemError.last("readlink", what)) }
    guard length < buffer.count else { throw CrispError.invalidArgument("\(what): the resolved path is too long") }
    return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
