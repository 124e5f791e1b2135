public import CrispCore
import Foundation
public import Runtime

/// Records' CRI bytes as JSON of Runtime's own types: the unit tests run the lifecycle without CRIServer,
/// and only need what they store to read back the same.
public struct JSONRecordCodec: RecordCodec {
  public init() {}

  private struct PodResources: Codable {
    var sandboxID: String
    var overhead: ContainerResources?
    var resources: ContainerResources?
  }

  public func decodeSandboxSpec(_ bytes: [UInt8]) throws -> PodSandboxSpec {
    try decode(PodSandboxSpec.self, bytes)
  }

  public func decodeContainerSpec(_ bytes: [UInt8]) throws -> ContainerSpec {
    try decode(ContainerSpec.self, bytes)
  }

  public func decodeResources(_ bytes: [UInt8]) throws -> ContainerResources {
    try decode(ContainerResources.self, bytes)
  }

  public func encode(_ resources: ContainerResources) throws(CrispError) -> [UInt8] {
    try encode(value: resources)
  }

  public func encodePodResources(sandboxID: String, overhead: ContainerResources?, resources: ContainerResources?) throws(CrispError) -> [UInt8] {
    try encode(value: PodResources(sandboxID: sandboxID, overhead: overhead, resources: resources))
  }

  func decode<Value: Decodable>(_ type: Value.Type, _ bytes: [UInt8]) throws(CrispError) -> Value {
    do {
      return try JSONDecoder().decode(type, from: Data(bytes))
    } catch {
      throw CrispError.internalError("decode \(type): \(error)", cause: error)
    }
  }

  public func encode<Value: Encodable>(value: Value) throws(CrispError) -> [UInt8] {
    do {
      return Array(try JSONEncoder().encode(value))
    } catch {
      throw CrispError.internalError("encode \(Value.self): \(error)", cause: error)
    }
  }
}
