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

  /// Connects to `url` (`http://HOST:PORT/route/token`, as Exec/Attach/PortForward return) and sends the
  /// upgrade request.
  public init(url: String, protocols: [String], upgrade: String = "SPDY/3.1") throws {
    guard let parsed = URL(string: url), let port = parsed.port, let host = parsed.host else { throw Failure.http("bad url \(url)") }
    // The streaming server speaks HTTPS when it has a certificate; this small client does not.
    guard parsed.scheme == "http" else { throw Failure.http("\(url): only http:// streaming URLs are supported by this client") }
    let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
    self.fd = try Self.connect(host: bare, port: port)
    framer = try SPDYFramer()
    var request = "POST \(parsed.path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: Upgrade\r\nUpgrade: \(upgrade)\r\n"
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

  /// A TCP connection to `host` (a name or an IPv4/IPv6 address) and `port`.
  static func connect(host: String, port: Int) throws -> Int32 {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var results: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, String(port), &hints, &results)
    guard status == 0, let first = results else { throw Failure.http("cannot resolve \(host): \(String(cString: gai_strerror(status)))") }
    defer { freeaddrinfo(results) }
    var lastError: Int32 = 0
    var entry: UnsafeMutablePointer<addrinfo>? = first
    while let current = entry {
      let fd = socket(current.pointee.ai_family, current.pointee.ai_socktype, current.pointee.ai_protocol)
      if fd >= 0 {
        if Glibc.connect(fd, current.pointee.ai_addr, current.pointee.ai_addrlen) == 0 { return fd }
        lastError = errno
        close(fd)
      }
      entry = current.pointee.ai_next
    }
    throw Failure.http("connect \(host):\(port): \(String(cString: strerror(lastError)))")
  }

  public var upgraded: Bool { responseHead.hasPrefix("HTTP/1.1 101") }

  static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for index in 0...(haystack.count - needle.count) where Array(haystack[index..<(index + needle.count)]) == needle { return index }
    return nil
  }

  /// Writes `bytes` on the connection; false once it is closed.
  @discardableResult
  public func send(_ bytes: [UInt8]) -> Bool { Self.send(bytes, on: fd) }

  /// Writes all of `bytes` to a connection's descriptor. Data frames (``SPDYFramer/dataFrame(streamID:flags:payload:)``)
  /// share no compression state, so another thread may send them this way while the client reads.
  @discardableResult
  public static func send(_ bytes: [UInt8], on fd: Int32) -> Bool {
    var offset = 0
    while offset < bytes.count {
      let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { return false }
      offset += n
    }
    return true
  }

  @discardableResult
  public func send(_ frame: SPDYFrame) -> Bool { send(framer.encode(frame)) }

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
