import CRIAPI
import CrispCore
import Runtime
import SwiftProtobuf

/// Records keep the CRI's protobuf encoding of what they must return verbatim; this is the one place that
/// knows it.
struct CRIRecordCodec: RecordCodec {
  func decodeSandboxSpec(_ bytes: [UInt8]) throws -> PodSandboxSpec {
    PodSandboxSpec(try Runtime_V1_PodSandboxConfig(serializedBytes: bytes))
  }

  func decodeContainerSpec(_ bytes: [UInt8]) throws -> ContainerSpec {
    ContainerSpec(try Runtime_V1_ContainerConfig(serializedBytes: bytes))
  }

  func decodeResources(_ bytes: [UInt8]) throws -> ContainerResources {
    ContainerResources(try Runtime_V1_LinuxContainerResources(serializedBytes: bytes))
  }

  func encode(_ resources: ContainerResources) throws(CrispError) -> [UInt8] {
    do {
      return try resources.cri.serializedBytes()
    } catch {
      throw CrispError.internalError("serialize resources: \(error)")
    }
  }

  func encodePodResources(sandboxID: String, overhead: ContainerResources?, resources: ContainerResources?) throws(CrispError) -> [UInt8] {
    var update = Runtime_V1_UpdatePodSandboxResourcesRequest()
    update.podSandboxID = sandboxID
    if let overhead { update.overhead = overhead.cri }
    if let resources { update.resources = resources.cri }
    do {
      return try update.serializedBytes()
    } catch {
      throw CrispError.internalError("serialize the resources of sandbox \(sandboxID): \(error)")
    }
  }
}
