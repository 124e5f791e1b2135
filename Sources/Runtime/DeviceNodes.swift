import CrispCore
import Glibc
import OCI

/// Device nodes for containers: the CRI's `devices` (host path → container path with permissions) and,
/// for privileged containers, every device of the host's /dev.
enum DeviceNodes {
  /// One host device, checked to be a character or block device.
  static func resolve(_ device: DeviceRequest, index: Int) throws(CrispError) -> (OCISpec.Device, OCISpec.DeviceRule) {
    let field = "config.devices[\(index)]"
    guard device.containerPath.hasPrefix("/") else {
      throw CrispError.invalidArgument("\(field).container_path \"\(device.containerPath)\" must be an absolute path")
    }
    let permissions = device.permissions.isEmpty ? "rwm" : device.permissions
    guard permissions.allSatisfy({ "rwm".contains($0) }) else {
      throw CrispError.invalidArgument("\(field).permissions \"\(device.permissions)\": only r, w and m are allowed")
    }
    var info = stat()
    guard stat(device.hostPath, &info) == 0 else {
      throw CrispError.invalidArgument("\(field).host_path \"\(device.hostPath)\": \(SystemError.last("stat", device.hostPath).strerror)")
    }
    guard let node = node(info, path: device.containerPath) else {
      throw CrispError.invalidArgument("\(field).host_path \"\(device.hostPath)\" is not a character or block device")
    }
    return (node, .init(allow: true, type: node.type, major: node.major, minor: node.minor, access: permissions))
  }

  /// Every character and block device under /dev, as a privileged container sees the host's (pseudo-
  /// terminals and the shm/mqueue file systems excepted: the container has its own).
  static func host() -> [OCISpec.Device] {
    var result: [OCISpec.Device] = []
    func walk(_ directory: String) {
      for name in (try? FilePath.listDirectory(directory)) ?? [] {
        let path = directory + "/" + name
        if ["/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/.lxc", "/dev/.udev"].contains(path) || path == "/dev/console" { continue }
        var info = stat()
        guard lstat(path, &info) == 0 else { continue }
        if info.st_mode & S_IFMT == S_IFDIR {
          walk(path)
        } else if let node = node(info, path: path) {
          result.append(node)
        }
      }
    }
    walk("/dev")
    return result.sorted { $0.path < $1.path }
  }

  private static func node(_ info: stat, path: String) -> OCISpec.Device? {
    let kind: String
    switch info.st_mode & S_IFMT {
    case S_IFCHR: kind = "c"
    case S_IFBLK: kind = "b"
    default: return nil
    }
    let rdev = UInt64(info.st_rdev)
    let major = Int64(((rdev >> 8) & 0xfff) | ((rdev >> 32) & 0xffff_f000))
    let minor = Int64((rdev & 0xff) | ((rdev >> 12) & 0xffff_ff00))
    return OCISpec.Device(
      type: kind, path: path, major: major, minor: minor, fileMode: UInt32(info.st_mode & 0o7777), uid: info.st_uid, gid: info.st_gid)
  }
}
