import CrispCore
import Foundation
import PodNetwork
@testable import Runtime
import RuntimeFakes
import Store
import Testing

/// Image volumes on fakes: the plan's checks, sub path resolution in a view (the fake's small tree, resolved
/// for real), one shared view per image counted from the records, its release on removal, on a failed
/// create and at recovery, and RemoveImage refused while a container uses the image.
@Suite struct ImageVolumeTests {
  static let chainHex = String(repeating: "c", count: 63) + "3"
  static let chainID = "sha256:" + chainHex

  static func view(_ node: FakeNode) -> String { node.directory + "/state/image-volumes/" + chainHex }

  static func withVolume(_ name: String = "app", subPath: String = "", image: String = FakeNode.volumeImage) -> ContainerSpec {
    var config = LifecycleFixtures.container(name)
    var mount = MountRequest(containerPath: "/data", readonly: true)
    mount.image = ImageSpec(image: image)
    mount.imageSubPath = subPath
    config.mounts = [mount]
    return config
  }

  /// The bind mount at `/data` in the OCI spec crisp wrote: its source and options.
  static func dataMount(_ node: FakeNode, _ id: String) throws -> (source: String, options: [String]) {
    let data = try Data(contentsOf: URL(fileURLWithPath: node.bundle(id) + "/config.json"))
    let spec = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let mounts = try #require(spec["mounts"] as? [[String: Any]])
    let mount = try #require(mounts.first { $0["destination"] as? String == "/data" })
    return (try #require(mount["source"] as? String), try #require(mount["options"] as? [String]))
  }

  static func realPath(_ path: String) -> String { URL(fileURLWithPath: path).resolvingSymlinksInPath().path }

  @Test func badImageVolumesAreRefusedBeforeAnyStep() async throws {
    let (node, sandbox) = try await ContainerLifecycleRollbackTests.podNode()
    var both = Self.withVolume()
    both.mounts[0].hostPath = "/tmp"
    var propagating = Self.withVolume()
    propagating.mounts[0].propagation = .hostToContainer
    let cases: [(ContainerSpec, CrispError.Code, String)] = [
      (
        Self.withVolume(image: "docker.io/library/absent:1"), .notFound,
        "mounts[0].image.image \"docker.io/library/absent:1\": image not found (pull it first)"
      ),
      (Self.withVolume(subPath: "../etc"), .invalidArgument, "mounts[0].image_sub_path \"../etc\" must not contain \"..\""),
      (Self.withVolume(subPath: "data/../../x"), .invalidArgument, "mounts[0].image_sub_path \"data/../../x\" must not contain \"..\""),
      (Self.withVolume(subPath: "/data"), .invalidArgument, "mounts[0].image_sub_path \"/data\" must be relative to the image's root"),
      (
        Self.withVolume(subPath: String(repeating: "a/", count: 2100)), .invalidArgument, "mounts[0].image_sub_path is 4200 bytes long (at most 4096)"
      ),
      (both, .invalidArgument, "mounts[0]: host_path and image are both set (an image volume has no host path)"),
      (
        propagating, .invalidArgument,
        "mounts[0].propagation: an image volume is read-only and cannot propagate mounts (use private)"
      ),
    ]
    for (config, code, message) in cases {
      let error = await LifecycleFixtures.error { () async throws(CrispError) in
        _ = try await node.manager.createContainer(sandboxID: sandbox, config: config)
      }
      #expect(error?.code == code)
      #expect(error?.message == message)
    }
    #expect(node.host.log.names.isEmpty)
    #expect(try node.store.allContainers().isEmpty)
    #expect(!FileManager.default.fileExists(atPath: Self.view(node)))
  }

  @Test func aPodWithAUserNamespaceGetsNoImageVolumes() throws {
    let node = try FakeNode()
    let mapping = UserNamespace.Mapping(hostID: 100_000, size: 65_536)
    let userNamespace = SpecBuilder.PodUserNamespace(path: node.directory + "/userns", uids: mapping, gids: mapping)
    var error: CrispError?
    do throws(CrispError) {
      _ = try node.manager.planImageVolumes(Self.withVolume().mounts, userNamespace: userNamespace)
    } catch let caught {
      error = caught
    }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message == "mounts[0].image: image volumes are not supported in pods with a user namespace")
    // Without one the same volume plans, resolved to the image's id and chain.
    let plans = try node.manager.planImageVolumes(Self.withVolume(subPath: "data/./sub").mounts, userNamespace: nil)
    #expect(plans.map(\.chainID) == [Self.chainID])
    #expect(plans.map(\.subPath) == ["data/sub"])
  }

  @Test func twoContainersShareOneViewUntilTheLastIsRemoved() async throws {
    let (node, sandbox) = try await ContainerLifecycleRollbackTests.podNode()
    let before = LifecycleFixtures.leftovers(node)
    let whole = try await node.manager.createContainer(sandboxID: sandbox, config: Self.withVolume("a"))
    let sub = try await node.manager.createContainer(sandboxID: sandbox, config: Self.withVolume("b", subPath: "./data//sub/"))
    #expect(node.host.log.names.filter { $0 == "rootfs.mountView" }.count == 2)
    #expect(node.host.rootfs.prepared.filter { $0.hasPrefix("view ") } == ["view " + Self.chainID])
    let view = Self.realPath(Self.view(node))
    #expect(try Self.dataMount(node, whole).source == Self.view(node))
    let mount = try Self.dataMount(node, sub)
    #expect(mount.source == view + "/data/sub")
    #expect(mount.options == ["rbind", "ro", "nosuid", "nodev", "rprivate"])
    node.host.log.clear()
    try await node.manager.removeContainer(whole)
    #expect(!node.host.log.names.contains("rootfs.removeView"))
    #expect(FileManager.default.fileExists(atPath: Self.view(node) + "/data/file"))
    try await node.manager.removeContainer(sub)
    #expect(node.host.log.names.filter { $0 == "rootfs.removeView" }.count == 1)
    #expect(LifecycleFixtures.leftovers(node) == before)
  }

  @Test func subPathsResolveInsideTheImage() async throws {
    let (node, sandbox) = try await ContainerLifecycleRollbackTests.podNode()
    let view = Self.realPath(Self.view(node))
    // Symbolic links resolve as in the image's root: `../../..` is the root itself, `/data` is the image's.
    for (index, (subPath, expected)) in [("up", view), ("inside", view + "/data"), ("up/data/sub", view + "/data/sub")].enumerated() {
      let id = try await node.manager.createContainer(sandboxID: sandbox, config: Self.withVolume("ok\(index)", subPath: subPath))
      #expect(try Self.dataMount(node, id).source == expected)
      try await node.manager.removeContainer(id)
    }
    let refused: [(String, String)] = [
      ("etc-link", "mounts[0].image_sub_path \"etc-link\": no such directory in image \(FakeNode.volumeImage)"),
      ("up/etc", "mounts[0].image_sub_path \"up/etc\": no such directory in image \(FakeNode.volumeImage)"),
      ("notdir", "mounts[0].image_sub_path \"notdir\": not a directory in image \(FakeNode.volumeImage)"),
      ("data/file", "mounts[0].image_sub_path \"data/file\": not a directory in image \(FakeNode.volumeImage)"),
    ]
    let before = LifecycleFixtures.leftovers(node)
    for (subPath, message) in refused {
      node.host.log.clear()
      let error = await LifecycleFixtures.error { () async throws(CrispError) in
        _ = try await node.manager.createContainer(sandboxID: sandbox, config: Self.withVolume(subPath: subPath))
      }
      #expect(error?.code == .invalidArgument)
      #expect(error?.message == message)
      // The view it mounted was released, before anything else was made.
      #expect(node.host.log.names == ["rootfs.mountView", "rootfs.removeView", "mounts.unmountAll"])
      #expect(try node.store.allContainers().isEmpty)
      #expect(LifecycleFixtures.leftovers(node) == before)
    }
  }

  static let createUndos: [(failing: String, undo: [String])] = [
    ("rootfs.mountView", ["rootfs.removeView", "mounts.unmountAll"]),
    ("rootfs.prepare", ["rootfs.removeView", "mounts.unmountAll"]),
    ("shims.start", ["mounts.removeStaging", "runtime.delete", "rootfs.remove", "rootfs.removeView", "mounts.unmountAll"]),
  ]

  @Test(arguments: 0..<3) func aFailingCreateReleasesTheView(_ index: Int) async throws {
    let (failing, undo) = Self.createUndos[index]
    let (node, sandbox) = try await ContainerLifecycleRollbackTests.podNode()
    let before = LifecycleFixtures.leftovers(node)
    node.host.log.fail(failing)
    let error = await LifecycleFixtures.error { () async throws(CrispError) in
      _ = try await node.manager.createContainer(sandboxID: sandbox, config: Self.withVolume())
    }
    #expect(error?.message == HostCallLog.injected(failing).message)
    #expect(node.host.log.names(after: failing) == undo)
    #expect(try node.store.allContainers().isEmpty)
    #expect(LifecycleFixtures.leftovers(node) == before)
  }

  @Test func aFailingCreateKeepsAViewAnotherContainerHolds() async throws {
    let (node, sandbox) = try await ContainerLifecycleRollbackTests.podNode()
    let holder = try await node.manager.createContainer(sandboxID: sandbox, config: Self.withVolume("holder"))
    node.host.log.clear()
    node.host.log.fail("shims.start")
    _ = await LifecycleFixtures.error { () async throws(CrispError) in
      _ = try await node.manager.createContainer(sandboxID: sandbox, config: Self.withVolume("failing", subPath: "data"))
    }
    #expect(!node.host.log.names.contains("rootfs.removeView"))
    #expect(node.host.rootfs.prepared.contains("view " + Self.chainID))
    #expect(try node.store.allContainers().map(\.id) == [holder])
  }

  @Test func removeImageIsRefusedWhileAContainerUsesIt() async throws {
    let (node, sandbox) = try await ContainerLifecycleRollbackTests.podNode()
    let id = try await node.manager.createContainer(sandboxID: sandbox, config: Self.withVolume())
    let volume = await LifecycleFixtures.error { () async throws(CrispError) in try await node.manager.removeImage(FakeNode.volumeImage) }
    #expect(volume?.code == .failedPrecondition)
    #expect(
      volume?.message
        == "image \"\(FakeNode.volumeImage)\" is in use by container \(id) (app, created) as the image volume at /data: remove the container first")
    let own = await LifecycleFixtures.error { () async throws(CrispError) in try await node.manager.removeImage(FakeNode.containerImage) }
    #expect(own?.code == .failedPrecondition)
    #expect(own?.message == "image \"\(FakeNode.containerImage)\" is in use by container \(id) (app, created): remove the container first")
    #expect(try node.manager.images.resolve(FakeNode.volumeImage) != nil)
    try await node.manager.startContainer(id)
    try await node.manager.stopContainer(id, timeout: 0)
    // An exited container still holds its image (kubelet's image GC counts exited containers too).
    let exited = await LifecycleFixtures.error { () async throws(CrispError) in try await node.manager.removeImage(FakeNode.containerImage) }
    #expect(exited?.message.contains("(app, exited)") == true)
    try await node.manager.removeContainer(id)
    try await node.manager.removeImage(FakeNode.volumeImage)
    try await node.manager.removeImage(FakeNode.containerImage)
    #expect(try node.manager.images.resolve(FakeNode.volumeImage) == nil)
    #expect(try node.manager.images.resolve(FakeNode.containerImage) == nil)
  }

  @Test func recoveryKeepsViewsOfContainersAndRemovesOrphans() async throws {
    let (node, sandbox) = try await ContainerLifecycleRollbackTests.podNode()
    let id = try await node.manager.createContainer(sandboxID: sandbox, config: Self.withVolume())
    try await node.manager.startContainer(id)
    // A view nobody holds: a daemon killed between forgetting its last user and unmounting it.
    let orphanHex = String(repeating: "d", count: 64)
    try node.host.rootfs.mountImageView(chainID: "sha256:" + orphanHex, at: node.directory + "/state/image-volumes/" + orphanHex)
    node.host.log.clear()
    await node.manager.recover()
    #expect(node.host.log.calls.filter { $0.name == "rootfs.removeView" }.map(\.subject) == ["sha256:" + orphanHex])
    #expect(node.host.rootfs.prepared.filter { $0.hasPrefix("view ") } == ["view " + Self.chainID])
    #expect(FileManager.default.fileExists(atPath: Self.view(node) + "/data/file"))
    // A later removal (after the restart) releases the view.
    try await node.manager.removeContainer(id)
    #expect(node.host.rootfs.prepared.filter { $0.hasPrefix("view ") }.isEmpty)
  }

  @Test func aContainerLeftCreatingReleasesItsViewAtRecovery() async throws {
    let (node, sandbox) = try await ContainerLifecycleRollbackTests.podNode()
    let id = try await node.manager.createContainer(sandboxID: sandbox, config: Self.withVolume())
    // As a daemon killed mid-create leaves it: the record still `creating`, the view mounted.
    var record = try #require(try node.store.container(id: id))
    record.state = .creating
    try node.store.putContainer(record)
    await node.manager.recover()
    #expect(try node.store.container(id: id) == nil)
    #expect(node.host.rootfs.prepared.filter { $0.hasPrefix("view ") }.isEmpty)
  }
}
