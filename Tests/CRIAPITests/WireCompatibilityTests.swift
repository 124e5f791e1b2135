import CRIAPI
import SwiftProtobuf
import Testing

/// kubelet and crictl talk to crisp with upstream's CRI schema: these values are written out by hand from
/// that schema, so a rename or renumbering in proto/ (or a regeneration that drifted) fails here.
@Suite struct WireCompatibilityTests {
  @Test func methodPaths() {
    #expect(Runtime_V1_RuntimeService.Method.Version.descriptor.fullyQualifiedMethod == "runtime.v1.RuntimeService/Version")
    #expect(Runtime_V1_RuntimeService.Method.RunPodSandbox.descriptor.fullyQualifiedMethod == "runtime.v1.RuntimeService/RunPodSandbox")
    #expect(Runtime_V1_RuntimeService.Method.ExecSync.descriptor.fullyQualifiedMethod == "runtime.v1.RuntimeService/ExecSync")
    #expect(Runtime_V1_RuntimeService.Method.GetContainerEvents.descriptor.fullyQualifiedMethod == "runtime.v1.RuntimeService/GetContainerEvents")
    #expect(Runtime_V1_RuntimeService.Method.StreamContainers.descriptor.fullyQualifiedMethod == "runtime.v1.RuntimeService/StreamContainers")
    #expect(Runtime_V1_ImageService.Method.PullImage.descriptor.fullyQualifiedMethod == "runtime.v1.ImageService/PullImage")
    #expect(Runtime_V1_ImageService.Method.ImageFsInfo.descriptor.fullyQualifiedMethod == "runtime.v1.ImageService/ImageFsInfo")
  }

  @Test func serviceSizes() {
    // 35 RuntimeService and 6 ImageService RPCs in the current upstream schema.
    #expect(Runtime_V1_RuntimeService.Method.descriptors.count == 35)
    #expect(Runtime_V1_ImageService.Method.descriptors.count == 6)
  }

  /// The first byte of a field on the wire is `number << 3 | wire type`.
  private func tag(_ number: UInt8, _ wireType: UInt8) -> UInt8 { number << 3 | wireType }

  @Test func fieldNumbers() throws {
    let version = try Runtime_V1_VersionResponse.with { $0.runtimeApiVersion = "v1" }.serializedBytes() as [UInt8]
    #expect(version == [tag(4, 2), 2, UInt8(ascii: "v"), UInt8(ascii: "1")])

    let metadata = try Runtime_V1_PodSandboxMetadata.with { $0.attempt = 7 }.serializedBytes() as [UInt8]
    #expect(metadata == [tag(4, 0), 7])
    let namespace = try Runtime_V1_PodSandboxMetadata.with { $0.namespace = "n" }.serializedBytes() as [UInt8]
    #expect(namespace == [tag(3, 2), 1, UInt8(ascii: "n")])

    let config = try Runtime_V1_ContainerConfig.with { $0.args = ["a"] }.serializedBytes() as [UInt8]
    #expect(config == [tag(4, 2), 1, UInt8(ascii: "a")])

    let exec = try Runtime_V1_ExecSyncResponse.with { $0.exitCode = 3 }.serializedBytes() as [UInt8]
    #expect(exec == [tag(3, 0), 3])

    let status = try Runtime_V1_ContainerStatus.with { $0.exitCode = 1 }.serializedBytes() as [UInt8]
    #expect(status == [tag(7, 0), 1])

    let pull = try Runtime_V1_PullImageRequest.with { $0.auth.username = "u" }.serializedBytes() as [UInt8]
    #expect(pull == [tag(2, 2), 3, tag(1, 2), 1, UInt8(ascii: "u")])

    let info = try Runtime_V1_StatusResponse.with { $0.info = ["k": "v"] }.serializedBytes() as [UInt8]
    #expect(info.first == tag(2, 2))
  }

  @Test func enumValues() {
    #expect(Runtime_V1_CgroupDriver.cgroupfs.rawValue == 1)
    #expect(Runtime_V1_CgroupDriver.systemd.rawValue == 0)
    #expect(Runtime_V1_ContainerState.containerExited.rawValue == 2)
    #expect(Runtime_V1_ContainerState.containerUnknown.rawValue == 3)
    #expect(Runtime_V1_PodSandboxState.sandboxNotready.rawValue == 1)
  }

  @Test func protoNames() {
    #expect(Runtime_V1_PodSandboxConfig.protoMessageName == "runtime.v1.PodSandboxConfig")
    #expect(Runtime_V1_AuthConfig.protoMessageName == "runtime.v1.AuthConfig")
  }
}
