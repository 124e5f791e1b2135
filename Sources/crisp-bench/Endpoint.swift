import CRIAPI
import CrispCore
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// A CRI endpoint under measurement (crisp, containerd, or any other runtime).
struct CRIEndpoint: Sendable {
  let name: String
  let socketPath: String

  init(name: String, address: String) {
    self.name = name
    socketPath = address.hasPrefix("unix://") ? String(address.dropFirst("unix://".count)) : address
  }

  func withClients<T: Sendable>(
    _ body:
      @Sendable (Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>, Runtime_V1_ImageService.Client<HTTP2ClientTransport.Posix>)
      async throws -> T
  ) async throws -> T {
    let transport = try HTTP2ClientTransport.Posix(
      target: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext,
      config: .defaults { $0.http2.maxFrameSize = 1 << 20 })
    return try await withGRPCClient(transport: transport) { client in
      try await body(Runtime_V1_RuntimeService.Client(wrapping: client), Runtime_V1_ImageService.Client(wrapping: client))
    }
  }

  /// The PID of the process listening on the endpoint's socket, found through /proc/net/unix and the
  /// processes' open file descriptors.
  func serverPID() -> Int32? {
    guard let table = (try? FilePath.readText("/proc/net/unix")) ?? nil else { return nil }
    var inodes: Set<String> = []
    // The kernel shows the path a socket was bound to. crisp binds in a private staging directory beside
    // the socket (`<dir>/.<name>.<pid>/socket`) and renames it into place, so that path counts too.
    let directory = FilePath.directory(of: socketPath)
    let stagingPrefix = "\(directory)/.\(FilePath.lastComponent(of: socketPath))."
    for line in table.split(separator: "\n").dropFirst() {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      // Num RefCount Protocol Flags Type St Inode Path; listening sockets have flag 00010000.
      guard fields.count >= 8, fields[3] == "00010000" else { continue }
      let path = String(fields[7])
      guard path == socketPath || (path.hasPrefix(stagingPrefix) && path.hasSuffix("/socket")) else { continue }
      inodes.insert(String(fields[6]))
    }
    guard !inodes.isEmpty else { return nil }
    let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for pid in processes.compactMap(Int32.init) {
      let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
      for fd in fds {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)") else { continue }
        if target.hasPrefix("socket:["), inodes.contains(String(target.dropFirst(8).dropLast())) { return pid }
      }
    }
    return nil
  }
}

/// Resident and proportional memory of a process, from /proc/<pid>/smaps_rollup.
func memory(of pid: Int32) -> (rss: Double, pss: Double)? {
  guard let text = (try? FilePath.readText("/proc/\(pid)/smaps_rollup")) ?? nil else { return nil }
  var rss = 0.0, pss = 0.0
  for line in text.split(separator: "\n") {
    let fields = line.split(separator: " ", omittingEmptySubsequences: true)
    guard fields.count >= 2, let kilobytes = Double(fields[1]) else { continue }
    if fields[0] == "Rss:" { rss = kilobytes * 1024 }
    if fields[0] == "Pss:" { pss = kilobytes * 1024 }
  }
  return (rss, pss)
}
