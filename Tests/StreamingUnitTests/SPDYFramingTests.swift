import Foundation
import CZlib
@testable import SPDY
@testable import Streaming
import Testing

/// SPDY/3.1 framing against the byte layouts of the SPDY/3 specification (section 2), header compression
/// across two framers, and the remote-command rules that need no daemon.
@Suite struct SPDYFramingTests {
  @Test func controlFramesHaveTheSpecsLayout() throws {
    let framer = try SPDYFramer()
    // Control bit + version 3, type, flags, 24-bit length, then the body.
    #expect(framer.encode(.ping(id: 1)) == [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01])
    #expect(framer.encode(.rstStream(streamID: 5, status: 5)) == [0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 5, 0, 0, 0, 5])
    #expect(framer.encode(.windowUpdate(streamID: 3, delta: 65536)) == [0x80, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 3, 0, 1, 0, 0])
    #expect(framer.encode(.goAway(lastGoodStreamID: 7, status: 0)) == [0x80, 0x03, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 7, 0, 0, 0, 0])
    #expect(
      framer.encode(.settings(flags: 0, entries: [SPDYSetting(flags: 0, id: 7, value: 65536)]))
        == [0x80, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0c, 0, 0, 0, 1, 0x00, 0x00, 0x00, 0x07, 0, 1, 0, 0])
    // A data frame: control bit clear, 31-bit stream id, flags (FIN), 24-bit length.
    #expect(framer.encode(.data(streamID: 1, flags: SPDYFrame.flagFin, payload: Array("hi".utf8))) == [0, 0, 0, 1, 0x01, 0, 0, 2, 0x68, 0x69])
  }

  @Test func framesDecodeFromTheSpecsBytes() throws {
    let framer = try SPDYFramer()
    var bytes: [UInt8] = [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x03, 0, 0, 0, 9, 0x01, 0, 0, 1]
    var start = 0
    #expect(try framer.decode(&bytes, consumedFrom: &start) == .ping(id: 3))
    // An incomplete frame waits for more bytes.
    #expect(try framer.decode(&bytes, consumedFrom: &start) == nil)
    bytes += [0x41]
    #expect(try framer.decode(&bytes, consumedFrom: &start) == .data(streamID: 9, flags: 1, payload: [0x41]))
    // A control frame of another SPDY version, or of an unknown type, fails on its header alone.
    var version2: [UInt8] = [0x80, 0x02, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00]
    start = 0
    #expect(throws: SPDYError.unsupportedVersion(2)) { _ = try framer.decode(&version2, consumedFrom: &start) }
    var unknown: [UInt8] = [0x80, 0x03, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x00]
    start = 0
    #expect(throws: SPDYError.unknownFrameType(10)) { _ = try framer.decode(&unknown, consumedFrom: &start) }
    #expect(SPDYFramer.pendingDataStream(Array("this is not SPDY".utf8), 0) == 0x7468_6973)
  }

  @Test func headerBlocksUseTheSpecsPairLayout() {
    let block = SPDYFramer.headerBlock(SPDYHeaders([("streamtype", "error")]))
    #expect(block == [0, 0, 0, 1, 0, 0, 0, 10] + Array("streamtype".utf8) + [0, 0, 0, 5] + Array("error".utf8))
    #expect(SPDYDictionary.bytes.count == 1423)
    #expect(Array(SPDYDictionary.bytes.prefix(11)) == [0, 0, 0, 7] + Array("options".utf8))
    #expect(SPDYDictionary.bytes.suffix(6) == Array(",enq=0.".utf8).suffix(6))
  }

  @Test func compressedHeadersCrossBetweenTwoEndsAcrossFrames() throws {
    let client = try SPDYFramer()
    let server = try SPDYFramer()
    var wire: [UInt8] = []
    let headers = [
      SPDYHeaders([("streamtype", "error")]), SPDYHeaders([("streamtype", "stdout")]),
      SPDYHeaders([("streamtype", "data"), ("port", "8080"), ("requestid", "0")]),
    ]
    for (index, block) in headers.enumerated() {
      wire += client.encode(.synStream(streamID: UInt32(2 * index + 1), associatedTo: 0, priority: 0, flags: 0, headers: block))
    }
    var start = 0
    for (index, block) in headers.enumerated() {
      let frame = try server.decode(&wire, consumedFrom: &start)
      #expect(frame == .synStream(streamID: UInt32(2 * index + 1), associatedTo: 0, priority: 0, flags: 0, headers: block))
    }
  }

  /// A header block whose zlib stream ends, with bytes after it, is an error, not an endless loop.
  @Test func aHeaderStreamThatEndsIsRefused() throws {
    var block = SPDYFramer.headerBlock(SPDYHeaders([("streamtype", "stdout")]))
    var compressed = [UInt8](repeating: 0, count: 256)
    var length = uLongf(compressed.count)
    #expect(compress(&compressed, &length, &block, uLong(block.count)) == Z_OK)
    let body = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0] + Array(compressed[0..<Int(length)]) + [1, 2, 3, 4]
    var frame: [UInt8] =
      [0x80, 0x03, 0x00, 0x01, 0x00] + [UInt8(body.count >> 16), UInt8((body.count >> 8) & 0xff), UInt8(body.count & 0xff)] + body
    var start = 0
    #expect(throws: SPDYError.self) { _ = try SPDYFramer().decode(&frame, consumedFrom: &start) }
  }

  @Test func protocolNegotiationPrefersTheClientsOrder() {
    #expect(RemoteCommandVersion.negotiate(["v4.channel.k8s.io", "v3.channel.k8s.io"]) == .v4)
    #expect(RemoteCommandVersion.negotiate(["v9.channel.k8s.io", "v2.channel.k8s.io"]) == .v2)
    #expect(RemoteCommandVersion.negotiate(["v9.channel.k8s.io"]) == nil)
    #expect(CommandStream.expected(.init(stdin: true, stdout: true, stderr: false, tty: true), .v4) == [.error, .stdin, .stdout, .resize])
    #expect(CommandStream.expected(.init(stdin: false, stdout: true, stderr: true, tty: false), .v1) == [.error, .stdout, .stderr])
  }

  @Test func statusPayloads() throws {
    let failure = try JSONSerialization.jsonObject(with: Data(CommandOutcome.exited(3).errorPayload(.v4))) as? [String: Any]
    #expect(failure?["reason"] as? String == "NonZeroExitCode")
    let success = try JSONSerialization.jsonObject(with: Data(CommandOutcome.exited(0).errorPayload(.v4))) as? [String: Any]
    #expect(success?["status"] as? String == "Success")
    #expect(CommandOutcome.exited(0).errorPayload(.v2).isEmpty)
    var decoder = ResizeDecoder()
    #expect(decoder.feed(Array("{\"Width\":80,\"Hei".utf8)) == nil)
    #expect(decoder.feed(Array("ght\":24}".utf8)).map { [$0.0, $0.1] } == [80, 24])
    // Several sizes in one message: the terminal only needs the latest.
    let size = decoder.feed(Array("{\"Width\":90,\"Height\":20}{\"Width\":100,\"Height\":30}".utf8))
    #expect(size.map { [$0.0, $0.1] } == [100, 30])
  }

  @Test func tokensAreSingleUseAndExpire() async throws {
    let requests = StreamRequests(lifetime: .milliseconds(200))
    let request = StreamRequest.portForward(sandboxID: "pod", ports: [80])
    let token = requests.issue(request)
    #expect(token.count == 32)
    #expect(requests.take(token, route: "exec") == nil)  // the wrong route consumes nothing useful
    let again = requests.issue(request)
    #expect(requests.take(again, route: "portforward") == request)
    #expect(requests.take(again, route: "portforward") == nil)
    let late = requests.issue(request)
    try await Task.sleep(for: .milliseconds(300))
    #expect(requests.take(late, route: "portforward") == nil)
  }
}
