import CRIAPI
import Config
import CrispCore
import CLinux
import Foundation
import GRPCCore
import Images
import Logging
import Store
import Testing
import TestSupport

@Suite(.serialized) struct ImageLifecycleTests {
  /// One image under three tags in one registry and under another name in a second registry.
  @Test func tagsAcrossRegistriesShareOneImage() async throws {
    let first = try RegistryHarness()
    let second = try RegistryHarness()
    var pushed: PushedImage?
    for tag in ["1", "2", "3"] { pushed = try first.push(busyboxSpec(repository: "web/app", tag: tag)) }
    let other = try second.push(busyboxSpec(repository: "mirror/app", tag: "1"))
    let id = try #require(pushed?.imageID)
    #expect(other.imageID == id)

    let daemon = try DaemonHarness()
    _ = try writeHostsFile(daemon, host: first.host, "server = \"http://\(first.host)\"\n")
    let configPath = try writeHostsFile(daemon, host: second.host, "server = \"http://\(second.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let usageBefore = try await daemon.withClients { _, images in try await images.imageFsInfo(.init()) }
    for tag in ["1", "2", "3"] { #expect(try await daemon.pull("\(first.host)/web/app:\(tag)") == id) }
    #expect(try await daemon.pull("\(second.host)/mirror/app:1") == id)

    let listed = try await daemon.listImages().filter { $0.id == id }
    #expect(listed.count == 1)
    #expect(
      Set(listed.first?.repoTags ?? []) == [
        "\(first.host)/web/app:1", "\(first.host)/web/app:2", "\(first.host)/web/app:3", "\(second.host)/mirror/app:1",
      ])
    #expect(listed.first?.repoDigests.count == 2)

    let usageAfterPull = try await daemon.withClients { _, images in try await images.imageFsInfo(.init()) }
    let before = usageBefore.imageFilesystems.first?.usedBytes.value ?? 0
    let afterPull = usageAfterPull.imageFilesystems.first?.usedBytes.value ?? 0
    #expect(afterPull > before)
    #expect(usageAfterPull.imageFilesystems.first?.fsID.mountpoint == daemon.root + "/snapshots")
    #expect((usageAfterPull.imageFilesystems.first?.timestamp ?? 0) > 0)

    // Removing by one tag removes the image with every name, in this registry and the other.
    try await daemon.removeImage("\(first.host)/web/app:2")
    #expect(try await daemon.listImages().allSatisfy { $0.id != id })
    for name in ["\(first.host)/web/app:1", "\(second.host)/mirror/app:1", id] {
      #expect(!(try await daemon.imageStatus(name).hasImage))
    }
    let usageAfterRemove = try await daemon.withClients { _, images in try await images.imageFsInfo(.init()) }
    #expect((usageAfterRemove.imageFilesystems.first?.usedBytes.value ?? 0) < afterPull)
    // Only the pause image's content remains.
    #expect(daemon.snapshotDirectories.count == 1)
    // Removal is idempotent.
    try await daemon.removeImage(id)
    try await daemon.removeImage("\(first.host)/never/pulled:1")
  }

  @Test func concurrentRemovalsBothSucceed() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push(busyboxSpec(repository: "race/app"))
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    _ = try await daemon.pull("\(registry.host)/race/app")
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await daemon.removeImage("\(registry.host)/race/app") }
      group.addTask { try await daemon.removeImage(pushed.imageID) }
      try await group.waitForAll()
    }
    #expect(!(try await daemon.imageStatus(pushed.imageID).hasImage))
  }

  @Test func usernamesAndUidsFromTheImageUser() async throws {
    let registry = try RegistryHarness()
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    for (user, uid, name) in [
      ("1002", Int64(1002), ""), ("www-data", nil, "www-data"), ("1003:1004", Int64(1003), ""), ("www-data:1004", nil, "www-data"),
    ] {
      let repository = "users/u\(abs(user.hashValue) % 100000)"
      try registry.push(busyboxSpec(repository: repository, user: user, marker: user))
      _ = try await daemon.pull("\(registry.host)/\(repository)")
      let image = try await daemon.imageStatus("\(registry.host)/\(repository)").image
      #expect(image.hasUid == (uid != nil), "USER \(user)")
      if let uid { #expect(image.uid.value == uid, "USER \(user)") }
      #expect(image.username == name, "USER \(user)")
    }
  }

  @Test(arguments: [
    ("dotdot", [["path": "../escaped", "type": "file", "content": "x"]], "escapes the layer"),
    ("absolute", [["path": "/etc/crisp-escaped", "type": "file", "content": "x"]], "absolute"),
    (
      "symlink",
      [["path": "escape", "type": "symlink", "target": "/tmp"], ["path": "escape/crisp-through-symlink", "type": "file", "content": "x"]], "symlink"
    ),
    ("hardlink", [["path": "passwd", "type": "hardlink", "target": "/etc/passwd"]], "absolute"),
    ("hardlink-dotdot", [["path": "passwd", "type": "hardlink", "target": "../../../../etc/passwd"]], "escapes"),
    ("nul", [["path": "..\u{0}x", "type": "dir"]], "escapes"),
    ("whiteout-dotdot", [["path": "d", "type": "dir"], ["path": "d/.wh..", "type": "file"]], "malformed whiteout"),
  ])
  func maliciousLayersAreRefusedWithNothingLeft(_ name: String, _ entries: [[String: String]], _ expected: String) async throws {
    let registry = try RegistryHarness()
    let spec: [String: Any] = [
      "repository": "evil/\(name)", "tag": "1",
      "images": [["config": ["Cmd": ["/x"]], "layers": [["compression": "gzip", "entries": entries]]]],
    ]
    let pushed = try registry.push(spec)
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let snapshots = daemon.snapshotDirectories
    let error = await expectRPCError { _ = try await daemon.pull("\(registry.host)/evil/\(name):1") }
    #expect(error?.code == .invalidArgument, "\(name): \(error?.message ?? "")")
    #expect(error?.message.contains(expected) == true, "\(name): \(error?.message ?? "")")
    #expect(error?.message.contains(pushed.layers[0]) == true)
    #expect(!FileManager.default.fileExists(atPath: "/tmp/crisp-through-symlink"))
    #expect(!FileManager.default.fileExists(atPath: "/etc/crisp-escaped"))
    #expect(!FileManager.default.fileExists(atPath: daemon.root + "/escaped"))
    #expect(daemon.snapshotDirectories == snapshots)
    #expect(try await daemon.listImages().allSatisfy { $0.id != pushed.imageID })
  }

  /// overlayfs's own xattrs (redirects, metacopy) in a layer would be interpreted by the kernel: refused.
  @Test func overlayXattrsInALayerAreRefused() async throws {
    let registry = try RegistryHarness()
    try registry.push([
      "repository": "evil/xattr", "tag": "1",
      "images": [
        [
          "config": ["Cmd": ["/x"]],
          "layers": [
            [
              "compression": "gzip",
              "entries": [
                ["path": "f", "type": "file", "content": "x", "xattrs": ["trusted.overlay.redirect": "2f6574632f736861646f77"]]
              ],
            ]
          ],
        ]
      ],
    ])
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let error = await expectRPCError { _ = try await daemon.pull("\(registry.host)/evil/xattr:1") }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains("trusted.overlay.redirect") == true, "\(error?.message ?? "")")
  }

  /// A directory replaced by a symlink after its children were written: the directory times applied at the
  /// end of the layer must not follow the symlink onto the host.
  @Test func directoryTimesNeverFollowALaterSymlink() async throws {
    let target = try TestEnvironment.temporaryDirectory("crisp-mtime")
    defer { try? FileManager.default.removeItem(atPath: target) }
    try FileManager.default.createDirectory(atPath: target + "/x", withIntermediateDirectories: true)
    let before = try FileManager.default.attributesOfItem(atPath: target + "/x")[.modificationDate] as? Date
    let registry = try RegistryHarness()
    let relative = String(target.dropFirst())
    let pushed = try registry.push([
      "repository": "evil/mtime", "tag": "1",
      "images": [
        [
          "config": ["Cmd": ["/x"]],
          "layers": [
            [
              "compression": "gzip",
              "entries": [
                ["path": "a", "type": "dir"], ["path": "a/\(relative)", "type": "dir"], ["path": "a/\(relative)/x", "type": "dir", "mtime": 1000],
                ["path": "a", "type": "symlink", "target": "/"],
              ],
            ]
          ],
        ]
      ],
    ])
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    #expect(try await daemon.pull("\(registry.host)/evil/mtime:1") == pushed.imageID)
    let after = try FileManager.default.attributesOfItem(atPath: target + "/x")[.modificationDate] as? Date
    #expect(after == before)
    #expect(after != Date(timeIntervalSince1970: 1000))
  }

  /// Three layers that delete, hide and replace files; the mounted root filesystem shows the result, the
  /// same with overlayfs and with the native snapshotter.
  @Test(arguments: [CrispConfig.Snapshotter.overlayfs, .native])
  func whiteoutsAndOpaqueDirectories(_ snapshotter: CrispConfig.Snapshotter) async throws {
    let registry = try RegistryHarness()
    let spec: [String: Any] = [
      "repository": "layers/three", "tag": "1",
      "images": [
        [
          "config": ["Cmd": ["/x"]],
          "layers": [
            [
              "compression": "gzip",
              "entries": [
                ["path": "a", "type": "dir"], ["path": "a/1", "type": "file", "content": "a1"], ["path": "a/2", "type": "file", "content": "a2"],
                ["path": "b", "type": "file", "content": "b"], ["path": "c", "type": "dir"], ["path": "c/x", "type": "file", "content": "cx"],
                ["path": "d", "type": "dir"], ["path": "d/old", "type": "file", "content": "old"],
                [
                  "path": "tool", "type": "file", "content": "setcap", "mode": 0o4755, "uid": 1000, "gid": 1000,
                  "xattrs": ["security.capability": "0100000200200000000000000000000000000000"],
                ],
                ["path": "fifo", "type": "fifo"], ["path": "null", "type": "char", "major": 1, "minor": 3],
                ["path": "link", "type": "hardlink", "target": "b"],
              ],
            ],
            [
              "compression": "zstd",
              "entries": [
                ["path": ".wh.b", "type": "file"], ["path": "a/.wh.1", "type": "file"],
                ["path": "c/.wh..wh..opq", "type": "file"], ["path": "c/y", "type": "file", "content": "cy"],
                ["path": ".wh.d", "type": "file"],
              ],
            ],
            [
              "compression": "none",
              "entries": [
                ["path": "b2", "type": "file", "content": "b2"], ["path": "a/3", "type": "file", "content": "a3"],
                ["path": "d", "type": "dir"], ["path": "d/new", "type": "file", "content": "new"],
              ],
            ],
          ],
        ]
      ],
    ]
    let pushed = try registry.push(spec)
    let root = try TestEnvironment.temporaryDirectory("crisp-snap")
    let target = root + "/rootfs"
    defer {
      _ = try? Mounts.unmount(target)
      try? FileManager.default.removeItem(atPath: root)
    }
    var config = CrispConfig()
    config.root = root + "/root"
    config.snapshotter = snapshotter
    config.registry.configPath = ""
    config.registry.mirrors[registry.host] = .init(endpoints: ["http://\(registry.host)"])
    let store = try Store(path: root + "/crisp.db")
    let manager = try ImageManager(config: config, store: store, logger: Logger(label: "test"))
    try await withShutdown(manager, store) {
      #expect(manager.snapshotter.mode.rawValue == snapshotter.rawValue)
      let image = try await manager.pull("\(registry.host)/layers/three:1", credentials: nil)
      #expect(image.id == pushed.imageID)
      try manager.snapshotter.prepareRootfs(owner: "container-1", chainID: image.chainID, target: target)

      func list(_ path: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: target + path)) ?? []).sorted() }
      #expect(list("") == ["a", "b2", "c", "d", "fifo", "link", "null", "tool"])
      #expect(list("/a") == ["2", "3"])
      #expect(list("/c") == ["y"])
      #expect(list("/d") == ["new"])
      #expect(try String(contentsOfFile: target + "/link", encoding: .utf8) == "b")
      var info = stat()
      #expect(stat(target + "/tool", &info) == 0)
      #expect(info.st_mode & 0o7777 == 0o4755)
      #expect(info.st_uid == 1000)
      var capability = [UInt8](repeating: 0, count: 64)
      #expect(crisp_lgetxattr(target + "/tool", "security.capability", &capability, capability.count) == 20)
      #expect(lstat(target + "/fifo", &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
      #expect(lstat(target + "/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
      // The container's writes land in its own layer.
      try "new".write(toFile: target + "/written", atomically: false, encoding: .utf8)
      try manager.snapshotter.removeRootfs(owner: "container-1", target: target)
      #expect(!Mounts.isMountPoint(target))
      #expect(try store.snapshot(owner: "container-1") == nil)
    }
  }

  @Test func manyLayersDoNotOverflowTheMountOptions() async throws {
    let registry = try RegistryHarness()
    let layers: [[String: Any]] = (0..<130).map { index in
      ["compression": "none", "entries": [["path": "f\(index)", "type": "file", "content": "\(index)"]]]
    }
    let pushed = try registry.push(["repository": "layers/many", "tag": "1", "images": [["config": ["Cmd": ["/x"]], "layers": layers]]])
    // A deliberately long root makes the layer paths long too.
    let root = try TestEnvironment.temporaryDirectory("crisp-snap-" + String(repeating: "x", count: 40))
    let target = root + "/rootfs"
    defer {
      _ = try? Mounts.unmount(target)
      try? FileManager.default.removeItem(atPath: root)
    }
    var config = CrispConfig()
    config.root = root + "/root"
    config.snapshotter = .overlayfs
    config.registry.configPath = ""
    config.registry.mirrors[registry.host] = .init(endpoints: ["http://\(registry.host)"])
    let store = try Store(path: root + "/crisp.db")
    let manager = try ImageManager(config: config, store: store, logger: Logger(label: "test"))
    try await withShutdown(manager, store) {
      let image = try await manager.pull("\(registry.host)/layers/many:1", credentials: nil)
      #expect(image.id == pushed.imageID)
      try manager.snapshotter.prepareRootfs(owner: "c", chainID: image.chainID, target: target)
      #expect(((try? FileManager.default.contentsOfDirectory(atPath: target)) ?? []).count == 130)
      try manager.snapshotter.removeRootfs(owner: "c", target: target)
    }
  }
}

/// Runs `body`, then always shuts the manager's HTTP clients down and closes the store.
func withShutdown(_ manager: ImageManager, _ store: Store, _ body: () async throws -> Void) async throws {
  do {
    try await body()
  } catch {
    await manager.shutdown()
    store.close()
    throw error
  }
  await manager.shutdown()
  store.close()
}
