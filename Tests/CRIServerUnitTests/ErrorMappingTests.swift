import CrispCore
import GRPCCore
import Testing

@testable import CRIServer

/// Status messages quote input, so they are bounded: a client must see the real code, not a metadata limit.
@Suite struct ErrorMappingTests {
  @Test func aHugeMessageIsCutOnACharacterBoundaryAndKeepsItsCode() {
    let user = String(repeating: "ü", count: 1_000_000)
    let error = ErrorMapping.rpcError(for: CrispError.invalidArgument("image config User \"\(user)\": no such user"))
    #expect(error.code == .invalidArgument)
    #expect(error.message.utf8.count <= ErrorMapping.maximumMessageBytes)
    #expect(error.message.hasPrefix("image config User \"üü"))
    #expect(error.message.hasSuffix("more bytes cut)"))
  }

  @Test func anOrdinaryMessageIsUnchanged() {
    let error = ErrorMapping.rpcError(for: CrispError.notFound("container \"x\": no such container"))
    #expect(error.code == .notFound)
    #expect(error.message == "container \"x\": no such container")
  }
}
