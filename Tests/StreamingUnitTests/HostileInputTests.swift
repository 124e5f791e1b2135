import Foundation
@testable import SPDY
@testable import Streaming
import NIOWebSocket
import Testing

/// What a streaming client controls, fed hostile values without a daemon: websocket port lists, channel
/// numbers and fragments, SPDY frames, header blocks and flow-control windows, resize messages and the input
/// flow. Nothing may trap; limits are the documented ones.
@Suite struct HostileInputTests {
  // MARK: Websocket port lists

  static func ports(_ query: String, requested: [Int32] = [], base64: Bool = false) -> Result<[UInt16], WebSocketPortList.Refusal> {
    Result { () throws(WebSocketPortList.Refusal) in try WebSocketPortList.parse(query: query, requested: requested, base64: base64) }
  }

  static func refusal(_ result: Result<[UInt16], WebSocketPortList.Refusal>) -> String? {
    if case .failure(let refusal) = result { return refusal.message }
    return nil
  }

  @Test func portListsAreCappedAtWhatTheFramingAddresses() {
    #expect(WebSocketPortList.maximum(base64: false) == 64)
    #expect(WebSocketPortList.maximum(base64: true) == 40)
    // 129 repeats of one port: the daemon used to trap on UInt8(2 * 128).
    let flood = Array(repeating: "port=80", count: 129).joined(separator: "&")
    let message = Self.refusal(Self.ports(flood))
    #expect(message?.contains("\"port\"") == true, "\(message ?? "accepted")")
    #expect(message?.contains("at most 64") == true, "\(message ?? "accepted")")
    // 105 ports on the base64 protocol: `48 + channel` trapped at channel 208.
    let base64Flood = (1...105).map { "port=\($0)" }.joined(separator: "&")
    #expect(Self.refusal(Self.ports(base64Flood, base64: true))?.contains("at most 40") == true)
    #expect(Self.refusal(Self.ports((1...41).map { "port=\($0)" }.joined(separator: "&"), base64: true)) != nil)
    // Exactly at the limits: accepted, in order, repeats kept (port i owns channels 2i and 2i+1).
    #expect(Self.ports(Array(repeating: "port=80", count: 64).joined(separator: "&")) == .success(Array(repeating: 80, count: 64)))
    #expect(Self.ports((1...40).map { "port=\($0)" }.joined(separator: "&"), base64: true) == .success((1...40).map { UInt16($0) }))
    // The same cap through comma lists, and for the CRI request's ports when the URL names none.
    #expect(Self.refusal(Self.ports("port=" + (1...65).map(String.init).joined(separator: ","))) != nil)
    #expect(Self.refusal(Self.ports("", requested: (1...65).map { Int32($0) }))?.contains("65 ports") == true)
  }

  @Test func eachPortIsATCPPort() {
    #expect(Self.ports("port=80,443&port=8080&other=1") == .success([80, 443, 8080]))
    #expect(Self.ports("port=%38%30") == .success([80]))
    for bad in ["port=0", "port=65536", "port=99999999999999999999", "port=abc", "port=+80", "port=-1", "port=80,", "port=", "port", "port=8%2C"] {
      let message = Self.refusal(Self.ports(bad))
      #expect(message?.contains("\"port\"") == true, "\(bad): \(message ?? "accepted")")
    }
    #expect(Self.refusal(Self.ports("port=81", requested: [80]))?.contains("port 81 was not in the PortForward request") == true)
    #expect(Self.ports("", requested: [80, 443]) == .success([80, 443]))
    #expect(Self.refusal(Self.ports("")) != nil)
  }

  // MARK: Websocket channel framing

  @Test func channelPrefixesStayWithinTheFraming() {
    let binary = WebSocketChannelFraming(base64: false)
    let base64 = WebSocketChannelFraming(base64: true)
    #expect(binary.prefix(255) == 255)
    #expect(base64.prefix(79) == 127)
    // Channels the base64 form cannot name in ASCII get no frame at all (this used to trap at 208).
    for channel in UInt8(80)...UInt8(255) {
      #expect(base64.prefix(channel) == nil)
      #expect(base64.frame(channel, [1], allocator: .init()) == nil)
    }
    let frame = base64.frame(3, Array("hi".utf8), allocator: .init())
    #expect(frame?.opcode == .text)
    #expect(frame.map { Array($0.data.readableBytesView) } == Array("3aGk=".utf8))
  }

  @Test func fragmentsAndChannelBytesNeverTrap() {
    var framing = WebSocketChannelFraming(base64: true)
    // A channel digit below "0" is ignored, not subtracted past zero.
    #expect(framing.receive(opcode: .text, fin: true, [0x2f] + Array("aGk=".utf8)) == .none)
    #expect(framing.receive(opcode: .text, fin: true, [0x30] + Array("aGk=".utf8)) == .message(channel: 0, body: Array("hi".utf8)))
    // Fragments past the cap end the session before they are appended.
    var binary = WebSocketChannelFraming(base64: false)
    let chunk = [UInt8](repeating: 0, count: 4 << 20)
    #expect(binary.receive(opcode: .binary, fin: false, chunk) == .none)
    for _ in 0..<3 { #expect(binary.receive(opcode: .continuation, fin: false, chunk) == .none) }
    #expect(binary.receive(opcode: .continuation, fin: false, [0]) == .closed)
    // Random frames of every opcode: whatever comes, an event and no trap.
    var generator = SeededGenerator(seed: 17)
    let opcodes: [WebSocketOpcode] =
      [.continuation, .text, .binary, .connectionClose, .pong] + [3, 11].compactMap { WebSocketOpcode(encodedWebSocketOpcode: $0) }
    for _ in 0..<20_000 {
      let bytes = (0..<Int.random(in: 0...12, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
      var framing = WebSocketChannelFraming(base64: Bool.random(using: &generator))
      _ = framing.receive(opcode: opcodes.randomElement(using: &generator) ?? .binary, fin: Bool.random(using: &generator), bytes)
    }
  }

  // MARK: SPDY

  @Test func randomAndMutatedSPDYBytesNeverTrap() throws {
    var generator = SeededGenerator(seed: 4711)
    let client = try SPDYFramer()
    let valid = [
      client.encode(.synStream(streamID: 1, associatedTo: 0, priority: 0, flags: 0, headers: SPDYHeaders([("streamtype", "data"), ("port", "80")]))),
      client.encode(.settings(flags: 0, entries: [SPDYSetting(flags: 0, id: 7, value: UInt32.max)])),
      client.encode(.windowUpdate(streamID: 1, delta: 0x7fff_ffff)),
      client.encode(.ping(id: 1)), client.encode(.rstStream(streamID: 1, status: 5)), client.encode(.goAway(lastGoodStreamID: 1, status: 0)),
      SPDYFramer.dataFrame(streamID: 1, flags: 1, payload: [1, 2, 3]),
    ]
    var decoded = 0
    for round in 0..<30_000 {
      var bytes: [UInt8]
      if round % 2 == 0 {
        bytes = valid.randomElement(using: &generator) ?? []
        for _ in 0..<Int.random(in: 1...4, using: &generator) where !bytes.isEmpty {
          bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
        }
      } else {
        bytes = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        if Bool.random(using: &generator) { bytes.insert(contentsOf: [0x80, 0x03, 0x00, UInt8.random(in: 1...9, using: &generator)], at: 0) }
      }
      let server = try SPDYFramer()
      var start = 0
      _ = SPDYFramer.pendingDataStream(bytes, start)
      do {
        while try server.decode(&bytes, consumedFrom: &start) != nil { decoded += 1 }
      } catch {}
    }
    #expect(decoded > 0)
  }

  @Test func headerBlocksWithHostileCountsAndLengthsAreRefused() {
    let huge: [UInt8] = [0xff, 0xff, 0xff, 0xff]
    #expect(throws: SPDYError.self) { try SPDYFramer.parseHeaderBlock(huge + [0, 0, 0, 1, 0x61]) }
    #expect(throws: SPDYError.self) { try SPDYFramer.parseHeaderBlock([0, 0, 0, 1] + huge + [0x61]) }
    #expect(throws: SPDYError.self) { try SPDYFramer.parseHeaderBlock([0, 0, 0, 1, 0, 0, 0, 1, 0x61] + huge) }
    #expect(throws: SPDYError.self) { try SPDYFramer.parseHeaderBlock([0, 0, 0]) }
    #expect((try? SPDYFramer.parseHeaderBlock([0, 0, 0, 1, 0, 0, 0, 1, 0x41, 0, 0, 0, 0]))?["a"] == "")
    // SETTINGS claiming more entries than it carries.
    var settings: [UInt8] = [0x80, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0xff, 0xff, 0xff, 0xff]
    var start = 0
    #expect(throws: SPDYError.self) { _ = try SPDYFramer().decode(&settings, consumedFrom: &start) }
  }

  @Test func flowControlWindowsStayWithin31Bits() throws {
    var windows = PeerWindows()
    windows.open(1)
    #expect(windows.room(1) == 65536)
    try windows.update(1, delta: 0x7fff_ffff - 65536)
    #expect(throws: PeerWindows.Violation.stream(1)) { try windows.update(1, delta: 1) }
    #expect(throws: PeerWindows.Violation.session) {
      for _ in 0..<3 { try windows.update(0, delta: 0x7fff_ffff) }
    }
    #expect(throws: PeerWindows.Violation.session) { try windows.setInitial(UInt32.max) }
    // A new initial window moves open streams' windows, held at the maximum.
    var moved = PeerWindows()
    moved.open(3)
    try moved.update(3, delta: 0x7ff0_0000)
    try moved.setInitial(0x7fff_ffff)
    try moved.update(0, delta: UInt32(PeerWindows.maximum - moved.session))
    #expect(moved.room(3) == PeerWindows.maximum)
    moved.consume(3, 10)
    #expect(moved.room(3) == PeerWindows.maximum - 10)
    // Updates for streams that are not open are ignored; a window may go negative after a smaller SETTINGS.
    try moved.update(99, delta: 0x7fff_ffff)
    moved.open(5)
    moved.consume(5, 0x7fff_ffff)
    try moved.setInitial(0)
    #expect(moved.room(5) < 0)
  }

  // MARK: Input

  @Test func theInputFlowPausesOnBytesAndOnMessageCount() {
    let changes = LockedBox(0)
    let flow = InputFlow()
    flow.observe { changes.set(changes.get() + 1) }
    for _ in 0..<InputFlow.highMessages { flow.received(0) }
    #expect(!flow.isPaused)
    flow.received(0)
    #expect(flow.isPaused)
    #expect(changes.get() == 1)
    for _ in 0..<(InputFlow.highMessages + 1 - InputFlow.lowMessages) { flow.consumed(0) }
    #expect(flow.isPaused)
    flow.consumed(0)
    #expect(!flow.isPaused)
    #expect(changes.get() == 2)
    flow.received(InputFlow.high + 1)
    #expect(flow.isPaused)
    flow.consumed(InputFlow.high + 1)
    #expect(!flow.isPaused)
  }

  @Test func resizeMessagesYieldTheirLatestSizeOnly() {
    var decoder = ResizeDecoder()
    let packed = Array(String(repeating: "{\"Width\":1,\"Height\":1}", count: 50_000).utf8) + Array("{\"Width\":200,\"Height\":50}".utf8)
    let size = decoder.feed(packed)
    #expect(size?.0 == 200)
    #expect(size?.1 == 50)
    // An object that never closes is dropped past the cap instead of growing.
    #expect(decoder.feed([UInt8(ascii: "{")] + [UInt8](repeating: 0x20, count: 10_000)) == nil)
    #expect(decoder.feed(Array("\"Width\":3,\"Height\":4}".utf8)) == nil)
    #expect(decoder.feed(Array("{\"Width\":70000,\"Height\":4}".utf8)) == nil)
    #expect(decoder.feed(Array("{\"Width\":80,\"Height\":24}".utf8))?.0 == 80)
  }
}

/// A small deterministic generator (SplitMix64), so a failure reproduces.
struct SeededGenerator: RandomNumberGenerator {
  private var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
