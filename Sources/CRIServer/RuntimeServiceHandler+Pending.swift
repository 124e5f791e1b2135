import CRIAPI
import GRPCCore

// The RuntimeService calls whose areas are not built yet: each answers UNIMPLEMENTED naming itself and the
// area that brings it (README, "What works today"). Implemented calls live in RuntimeServiceHandler*.swift.
extension RuntimeServiceHandler {
  func checkpointContainer(request: Runtime_V1_CheckpointContainerRequest) async throws -> Runtime_V1_CheckpointContainerResponse {
    throw notImplemented("CheckpointContainer", "no planned release (checkpoint/restore is not supported)")
  }
}
