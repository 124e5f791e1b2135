public import CrispCore
import CLinux
import Foundation
import Glibc

/// The files a pod's containers see as /etc/hostname, /etc/hosts and /etc/resolv.conf.
public enum SandboxFiles {
  /// Writes the three files into `directory` (atomically) and returns their paths.
  /// `group` is the host group of a user-namespaced pod's root, which must reach the files (see
  /// ``FilePath/makePrivateDirectory(_:group:)``): a container's root can write to them.
  public static func write(
    directory: String, config: PodSandboxSpec, hostNetwork: Bool, group: UInt32? = nil
  ) throws(CrispError) -> (hostname: String, hosts: String, resolvConf: String) {
    do {
      try FilePath.makePrivateDirectory(directory, group: group)
      let hostname = directory + "/hostname", hosts = directory + "/hosts", resolv = directory + "/resolv.conf"
      let name = hostNetwork ? ((try? FilePath.readText("/etc/hostname")) ?? "localhost") : (config.hostname.isEmpty ? config.metadata.name : config.hostname)
      try AtomicFile.write(name + "\n", to: hostname)
      if hostNetwork, let text = try FilePath.readText("/etc/hosts") {
        try AtomicFile.write(text + "\n", to: hosts)
      } else {
        try AtomicFile.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", to: hosts)
      }
      try AtomicFile.write(resolvConf(config.dnsConfig, hostNetwork: hostNetwork), to: resolv)
      return (hostname, hosts, resolv)
    } catch let error as CrispError {
      throw error
    } catch {
      throw CrispError.internalError("sandbox files in \(directory): \(error)")
    }
  }

  /// The pod's resolv.conf: kubelet's DNS config when given, else the host's.
  static func resolvConf(_ dns: DNSConfig?, hostNetwork: Bool) throws -> String {
    guard let dns, !(dns.servers.isEmpty && dns.searches.isEmpty && dns.options.isEmpty) else {
      return (try FilePath.readText("/etc/resolv.conf")).map { $0 + "\n" } ?? ""
    }
    var text = ""
    if !dns.searches.isEmpty { text += "search \(dns.searches.joined(separator: " "))\n" }
    for server in dns.servers { text += "nameserver \(server)\n" }
    if !dns.options.isEmpty { text += "options \(dns.options.joined(separator: " "))\n" }
    return text
  }
}

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
    let fd = crisp_openat2(root, relative, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0,
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

/// Users and groups from an image's /etc/passwd and /etc/group.
public enum ImageAccounts {
  public struct User: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
  }

  /// Looks `name` up in `<rootfs>/etc/passwd`.
  public static func user(named name: String, rootfs: String) -> User? {
    ImageAccountFiles(rootfs: rootfs).user(named: name).map { User(uid: $0.id, gid: $0.gid) }
  }

  /// The name (when it is UTF-8) and primary gid of `uid`.
  public static func user(uid: UInt32, rootfs: String) -> (name: String?, gid: UInt32)? {
    guard let passwd = RootfsFile.readBytes(rootfs: rootfs, path: "/etc/passwd") else { return nil }
    return AccountEntry.entries(passwd, group: false).first { $0.id == uid }.map { ($0.nameText, $0.gid) }
  }

  /// The home directory of `uid` in `<rootfs>/etc/passwd`.
  public static func home(uid: UInt32, rootfs: String) -> String? {
    guard let passwd = RootfsFile.readBytes(rootfs: rootfs, path: "/etc/passwd") else { return nil }
    for entry in AccountEntry.entries(passwd, group: false) where entry.id == uid && !entry.home.isEmpty {
      return String(validating: entry.home, as: UTF8.self)
    }
    return nil
  }

  /// Groups listing `user` as a member in `<rootfs>/etc/group`.
  public static func groups(of user: String, rootfs: String) -> [UInt32] {
    guard let group = RootfsFile.readBytes(rootfs: rootfs, path: "/etc/group") else { return [] }
    let wanted = Array(user.utf8)
    return AccountEntry.entries(group, group: true).filter { $0.members.contains(wanted) }.map(\.id)
  }
}
