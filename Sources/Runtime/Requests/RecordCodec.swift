public import CrispCore

/// The wire form of what records keep in the CRI's own encoding (ContainerStatus must report resources as
/// kubelet sent them, and records made by earlier versions hold them that way). CRIServer implements it:
/// Runtime stores and reads the bytes without knowing the CRI's types.
public protocol RecordCodec: Sendable {
  /// A sandbox record's config (the error is the decoder's own, for the message that names the record).
  func decodeSandboxSpec(_ bytes: [UInt8]) throws -> PodSandboxSpec
  /// A container record's config.
  func decodeContainerSpec(_ bytes: [UInt8]) throws -> ContainerSpec
  /// Resources from the bytes ``encode(_:)`` made.
  func decodeResources(_ bytes: [UInt8]) throws -> ContainerResources
  func encode(_ resources: ContainerResources) throws(CrispError) -> [UInt8]
  /// What UpdatePodSandboxResources reported for a sandbox, as its status files keep it.
  func encodePodResources(sandboxID: String, overhead: ContainerResources?, resources: ContainerResources?) throws(CrispError) -> [UInt8]
}
