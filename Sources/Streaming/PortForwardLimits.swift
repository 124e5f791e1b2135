import Foundation

/// What one port-forward session may hold, whatever its transport. Each forwarded connection costs a reading
/// thread with a 256 KiB buffer, a write queue and a socket, so a client with `pods/portforward` is held to a
/// fixed number of them per session, as to what it may send before a connection is up.
enum PortForwardLimits {
  /// Forwarded connections one session holds at once (kubectl opens one per local connection; browsers keep
  /// about six per host). A SPDY client's next connection gets an error on its error stream until one ends; a
  /// websocket URL may name at most this many ports.
  static let connections = 64
  /// Bytes a connection may receive before its dial into the pod completes. They count toward the session's
  /// ``InputFlow`` (reading pauses past 1 MiB), so only a client sending one huge frame reaches this; the
  /// connection then ends with an error naming its port.
  static let earlyBytes = 2 * InputFlow.high
  /// The longest SPDY `requestid` header kept per connection (client-go sends a decimal counter).
  static let requestIDLength = 128
}

/// The ports of a websocket port-forward, from the URL's `port` query parameters (`?port=80&port=443`, or
/// `?port=80,443` as kubelet also reads) or else the CRI request's. Each is 1-65535 and, when the request
/// named ports, one of them. Repeats are kept, as kubelet does: port number i owns channels 2i and 2i+1,
/// so dropping one would move the channels the client expects. The list is capped at what the framing can
/// address and at ``PortForwardLimits/connections``.
enum WebSocketPortList {
  struct Refusal: Error, Equatable {
    let message: String
  }

  /// Ports one session may forward: 64 in binary (channels 0-127), 40 with the base64 protocol (whose channel
  /// digit must stay ASCII: channels 0-79).
  static func maximum(base64: Bool) -> Int {
    min(PortForwardLimits.connections, (Int(WebSocketChannelFraming.maximumChannel(base64: base64)) + 1) / 2)
  }

  static func parse(query: String, requested: [Int32], base64: Bool) throws(Refusal) -> [UInt16] {
    let limit = maximum(base64: base64)
    let protocolName = base64 ? "v4.base64.channel.k8s.io" : "v4.channel.k8s.io"
    func tooMany(_ count: String) -> Refusal {
      Refusal(message: "query parameter \"port\": \(count) ports requested; one \(protocolName) port-forward carries at most \(limit)")
    }
    var ports: [UInt16] = []
    for item in query.split(separator: "&", omittingEmptySubsequences: true) {
      let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard let rawName = pair.first, (String(rawName).removingPercentEncoding ?? String(rawName)) == "port" else { continue }
      let rawValue = pair.count > 1 ? String(pair[1]) : ""
      let value = rawValue.removingPercentEncoding ?? rawValue
      guard !value.isEmpty else { throw Refusal(message: "query parameter \"port\" is empty") }
      for text in value.split(separator: ",", omittingEmptySubsequences: false) {
        guard text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let port = UInt16(text), port > 0 else {
          throw Refusal(message: "query parameter \"port\": \"\(text.prefix(32))\" is not a TCP port (1-65535)")
        }
        guard ports.count < limit else { throw tooMany("more than \(limit)") }
        ports.append(port)
      }
    }
    if ports.isEmpty {
      guard requested.count <= limit else { throw tooMany("\(requested.count)") }
      ports = requested.compactMap { UInt16(exactly: $0) }.filter { $0 > 0 }
    } else if !requested.isEmpty, let stray = ports.first(where: { !requested.contains(Int32($0)) }) {
      throw Refusal(message: "query parameter \"port\": port \(stray) was not in the PortForward request")
    }
    guard !ports.isEmpty else { throw Refusal(message: "query parameter \"port\" is required: no port to forward") }
    return ports
  }
}
