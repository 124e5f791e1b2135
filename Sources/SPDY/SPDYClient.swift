import Foundation
import Glibc

/// A small blocking SPDY/3.1 client doing what client-go's remotecommand and port-forward do: upgrade an
/// HTTP request, open one stream per channel, send and read DATA. For crisp's own tools (crisp-bench's
/// exec-stream scenario) and tests; one thread drives it.
public final class SPDYClient {
  public let fd: Int32
  public let framer: SPDYFramer
  private var input: [UInt8] = []
  private var readBuffer = [UInt8](repeating: 0, count: 256 * 1024)
  private var inputStart = 0
  private var nextStream: UInt32 = 1
  /// Data received per stream, and which streams the server finished.
  public var received: [UInt32: [UInt8]] = [:]
  /// Bytes received per stream; with `keepsData` false only these are kept (for throughput runs).
  public var byteCounts: [UInt32: Int] = [:]
  public var keepsData = true
  public var finished: Set<UInt32> = []
  public var resets: Set<UInt32> = []
  public var replied: Set<UInt32> = []
  public var closed = false
  public var responseHead = ""

  public enum Failure: Error, CustomStringConvertible {
    case http(String)
    case timeout(String)
    public var description: String {
      switch self {
      case .http(let head): "upgrade refused: \(head)"
      case .timeout(let what): "timed out waiting for \(what)"
      }
    }
  }

  /// Connects to `url` (http://127.0.0.1:PORT/route/token) and sends the upgrade request.
  public init(url: String, protocols: [String], upgrade: String = "SPDY/3.1") throws {
    guard let parsed = URL(string: url), let port = parsed.port else { throw Failure.http("bad url \(url)") }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    self.fd = fd
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw Failure.http("connect: errno \(errno)") }
    framer = try SPDYFramer()
    var request = "POST \(parsed.path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: Upgrade\r\nUpgrade: \(upgrade)\r\n"
    for name in protocols { request += "X-Stream-Protocol-Version: \(name)\r\n" }
    request += "Content-Length: 0\r\n\r\n"
    send(Array(request.utf8))
    // The response head, up to the blank line; anything after it is already SPDY.
    let deadline = Date().addingTimeInterval(10)
    while true {
      if let end = Self.find([13, 10, 13, 10], in: input) {
        responseHead = String(decoding: input[0..<end], as: UTF8.self)
        input.removeFirst(end + 4)
        break
      }
      guard Date() < deadline else { throw Failure.timeout("the upgrade response") }
      readSome(timeout: 1)
      if closed {
        responseHead = String(decoding: input, as: UTF8.self)
        break
      }
    }
  }

  deinit { close(fd) }

  public var upgraded: Bool { responseHead.hasPrefix("HTTP/1.1 101") }

  static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for index in 0...(haystack.count - needle.count) where Array(haystack[index..<(index + needle.count)]) == needle { return index }
    return nil
  }

  public func send(_ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      if n <= 0 { return }
      offset += n
    }
  }

  public func send(_ frame: SPDYFrame) { send(framer.encode(frame)) }

  /// Opens a stream with `streamtype` (and any extra headers); returns its id.
  @discardableResult
  public func openStream(_ type: String, extra: [(String, String)] = []) -> UInt32 {
    let id = nextStream
    nextStream += 2
    send(.synStream(streamID: id, associatedTo: 0, priority: 0, flags: 0, headers: SPDYHeaders([("streamtype", type)] + extra)))
    return id
  }

  public func write(_ stream: UInt32, _ text: String, fin: Bool = false) {
    send(.data(streamID: stream, flags: fin ? SPDYFrame.flagFin : 0, payload: Array(text.utf8)))
  }

  /// Reads what is available within `timeout` seconds; false when nothing came.
  @discardableResult
  public func readSome(timeout: Double) -> Bool {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&entry, 1, Int32(timeout * 1000)) > 0 else { return false }
    let n = readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n <= 0 {
      closed = true
      return true
    }
    input += readBuffer[0..<n]
    return true
  }

  /// Decodes the frames read so far.
  public func process() throws {
    while let frame = try framer.decode(&input, consumedFrom: &inputStart) {
      switch frame {
      case .synReply(let id, _, _): replied.insert(id)
      case .data(let id, let flags, let payload):
        byteCounts[id, default: 0] += payload.count
        if keepsData { received[id, default: []] += payload }
        if flags & SPDYFrame.flagFin != 0 { finished.insert(id) }
      case .rstStream(let id, _): resets.insert(id)
      case .goAway: closed = true
      default: break
      }
    }
    input.removeFirst(inputStart)
    inputStart = 0
  }

  /// Reads until `condition` holds or the connection closes; throws on timeout.
  public func pump(until what: String, timeout: Double = 20, _ condition: () -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    try process()
    while !condition() {
      if closed { return }
      guard Date() < deadline else { throw Failure.timeout(what) }
      readSome(timeout: 0.2)
      try process()
    }
  }

  public func text(_ stream: UInt32) -> String { String(decoding: received[stream] ?? [], as: UTF8.self) }
}
