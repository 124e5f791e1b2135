import Foundation
import NIOCore
import NIOPosix
@testable import SPDY
@testable import Streaming
import Testing

/// A SPDY connection on a real loopback socket, fed by a client that floods PINGs and DATA and never reads:
/// what crisp holds for it (NIO's outbound buffer) stays near the write watermark instead of growing with
/// every frame. (On loopback the kernel keeps absorbing small replies into the never-read receive queue, so
/// the code before the reading gate stayed under this bound too; the test guards the bound.)
@Suite struct ConnectionBackpressureTests {
  final class Sink: SPDYApplication {
    func streamOpened(_ id: UInt32, headers: SPDYHeaders) -> Bool { true }
    func streamData(_ id: UInt32, _ bytes: [UInt8]) {}
    func streamClosed(_ id: UInt32, reset: Bool) {}
    func connectionClosed() {}
  }

  @Test func aClientThatNeverReadsIsNotBufferedFor() async throws {
    let accepted = LockedBox<(any Channel)?>(nil)
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          let connection = try SPDYConnection(eventLoop: channel.eventLoop)
          connection.retain(Sink())
          try channel.pipeline.syncOperations.addHandler(connection)
          accepted.set(channel)
        }
      }
      .bind(host: "127.0.0.1", port: 0).get()
    defer { server.close(promise: nil) }
    let port = try #require(server.localAddress?.port)
    let client = try RawClient(port: port)
    let framer = try SPDYFramer()
    // The stream once (its header block continues the connection's zlib stream), then the repeating flood.
    _ = client.flood(
      framer.encode(.synStream(streamID: 1, associatedTo: 0, priority: 0, flags: 0, headers: SPDYHeaders([("streamtype", "data")]))), total: 1,
      seconds: 5)
    var flood: [UInt8] = []
    for index in 0..<4096 {
      flood += framer.encode(.ping(id: UInt32(2 * index + 1)))
      flood += SPDYFramer.dataFrame(streamID: 1, flags: 0, payload: [0x78])
    }
    // 20 s at most; a throttled connection stops taking bytes (or only trickles).
    let sent = client.flood(flood, total: 32 << 20, seconds: 20)
    let channel = try #require(accepted.get())
    let buffered = try await channel.getOption(ChannelOptions.bufferedWritableBytes).get()
    // Each 21 bytes in owed about 44 out before (an echo and two WINDOW_UPDATEs): megabytes after a flood.
    #expect(buffered < 1 << 20, "\(buffered) bytes buffered for a client that never reads, after \(sent) bytes sent")
    client.close()
  }
}

/// A blocking loopback client whose writes give up once the peer stops taking bytes for a while.
final class RawClient {
  let fd: Int32

  init(port: Int) throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else { throw SPDYError.malformed("connect: \(errno)") }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
  }

  func close() { _ = Glibc.close(fd) }

  func flood(_ chunk: [UInt8], total: Int, seconds: Double) -> Int {
    var sent = 0
    var offset = 0
    let deadline = Date().addingTimeInterval(seconds)
    var lastProgress = Date()
    while sent < total, Date() < deadline, Date().timeIntervalSince(lastProgress) < 3 {
      let n = chunk[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      if n > 0 {
        sent += n
        offset = (offset + n) % chunk.count
        lastProgress = Date()
        continue
      }
      if n < 0 && errno != EAGAIN && errno != EINTR { break }
      var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
      _ = poll(&entry, 1, 200)
    }
    return sent
  }
}
