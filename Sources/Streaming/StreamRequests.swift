import Foundation
import Synchronization

/// What a streaming URL was issued for: the validated CRI request, kept until the client connects.
public enum StreamRequest: Sendable, Equatable {
  case exec(containerID: String, command: [String], options: StreamOptions)
  case attach(containerID: String, options: StreamOptions)
  case portForward(sandboxID: String, ports: [Int32])

  var route: String {
    switch self {
    case .exec: "exec"
    case .attach: "attach"
    case .portForward: "portforward"
    }
  }
}

/// The streams a command session carries, as the CRI request asked.
public struct StreamOptions: Sendable, Equatable {
  public var stdin: Bool
  public var stdout: Bool
  public var stderr: Bool
  public var tty: Bool

  public init(stdin: Bool, stdout: Bool, stderr: Bool, tty: Bool) {
    self.stdin = stdin
    self.stdout = stdout
    self.stderr = stderr
    self.tty = tty
  }
}

/// Single-use tokens for streaming URLs. A token is random (128 bits), maps to one request, is removed the
/// first time it is used, and lapses if unused within `lifetime` (kubelet connects right after the RPC).
final class StreamRequests: Sendable {
  private struct Entry {
    var request: StreamRequest
    var expires: ContinuousClock.Instant
  }

  private let entries = Mutex<[String: Entry]>([:])
  let lifetime: Duration
  /// Outstanding tokens are capped so a caller issuing URLs it never uses cannot grow memory without bound.
  static let capacity = 4096

  init(lifetime: Duration = .seconds(60)) { self.lifetime = lifetime }

  func issue(_ request: StreamRequest) -> String {
    var generator = SystemRandomNumberGenerator()
    let token = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    let now = ContinuousClock.now
    entries.withLock { table in
      table = table.filter { $0.value.expires > now }
      if table.count >= Self.capacity, let oldest = table.min(by: { $0.value.expires < $1.value.expires })?.key {
        table[oldest] = nil
      }
      table[token] = Entry(request: request, expires: now + lifetime)
    }
    return token
  }

  /// The request behind `token`, consumed; nil when unknown, used already or expired.
  func take(_ token: String, route: String) -> StreamRequest? {
    let now = ContinuousClock.now
    return entries.withLock { table -> StreamRequest? in
      guard let entry = table[token], entry.request.route == route else { return nil }
      table[token] = nil
      return entry.expires > now ? entry.request : nil
    }
  }
}
