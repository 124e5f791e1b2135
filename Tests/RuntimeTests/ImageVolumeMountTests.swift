import CRIAPI
import Foundation
import GRPCCore
import Glibc
import Testing
import TestSupport

/// Image volumes with the real daemon: an image pulled from the loopback registry mounted read-only into
/// containers, whole or by sub path; one shared view per image; RemoveImage refused while it is used; the
/// view kept across a daemon kill and released by the last removal.
@Suite(.serialized) struct ImageVolumeMountTests {
  /// Pushes and pulls a two-layer data image: `data/hello`, `data/sub/inner`, `etc/image-marker`, symlinks
  /// `escape` → `../../etc` and `abs` → `/etc`; the second layer adds `data/second`.
  static func pullDataImage(_ pods: PodHarness) async throws -> (reference: String, id: String) {
    let pushed = try pods.registry.push([
      "repository": "volumes/data", "tag": "1",
      "images": [
        [
          "config": ["Cmd": ["/nothing"]],
          "layers": [
            [
              "compression": "gzip",
              "entries": [
                ["path": "data", "type": "dir"], ["path": "data/hello", "type": "file", "content": "from the image\n"],
                ["path": "data/sub", "type": "dir"], ["path": "data/sub/inner", "type": "file", "content": "inner\n"],
                ["path": "etc", "type": "dir"], ["path": "etc/image-marker", "type": "file", "content": "image etc\n"],
                ["path": "escape", "type": "symlink", "target": "../../etc"], ["path": "abs", "type": "symlink", "target": "/etc"],
              ],
            ],
            ["compression": "gzip", "entries": [["path": "data/second", "type": "file", "content": "layer two\n"]]],
          ],
        ]
      ],
    ])
    let reference = "\(pods.registry.host)/volumes/data:1"
    _ = try await pods.daemon.withClients { _, images in try await images.pullImage(.with { $0.image.image = reference }) }
    return (reference, pushed.imageID)
  }

  static func volume(_ image: String, at path: String, subPath: String = "") -> Runtime_V1_Mount {
    .with {
      $0.containerPath = path
      $0.readonly = true
      $0.image = .with { $0.image = image }
      $0.imageSubPath = subPath
    }
  }

  /// The daemon's image volume views in this process's mount table.
  static func views(_ pods: PodHarness) -> [String] {
    HostSnapshot.take(under: pods.daemon.state + "/image-volumes/").mounts
  }

  static func removeImage(_ pods: PodHarness, _ image: String) async throws {
    _ = try await pods.daemon.withClients { _, images in try await images.removeImage(.with { $0.image.image = image }) }
  }

  /// With overlayfs (lower directories only) and with the native snapshotter (a bind of one merged copy).
  @Test(arguments: ["overlayfs", "native"]) func containersSeeTheImageReadOnlyThroughOneSharedView(_ snapshotter: String) async throws {
    try await PodHarness.with(extraConfig: "snapshotter = \"\(snapshotter)\"") { pods in
      let (image, imageID) = try await Self.pullDataImage(pods)
      let podConfig = pods.podConfig("image-volumes")
      let pod = try await pods.runPod(podConfig)
      var whole = pods.containerConfig("whole", command: ["/bin/sleep", "1000"])
      whole.mounts = [Self.volume(image, at: "/vol")]
      let first = try await pods.runContainer(pod, podConfig, whole)
      var parts = pods.containerConfig("parts", command: ["/bin/sleep", "1000"])
      parts.mounts = [Self.volume(image, at: "/sub", subPath: "data/sub"), Self.volume(image, at: "/escaped", subPath: "escape")]
      let second = try await pods.runContainer(pod, podConfig, parts)

      #expect(try await pods.exec(first, ["/bin/cat", "/vol/data/hello", "/vol/data/second"]).stdout == Data("from the image\nlayer two\n".utf8))
      let write = try await pods.exec(first, ["/bin/sh", "-c", "echo x > /vol/data/new"])
      #expect(write.exitCode != 0)
      #expect(String(decoding: write.stderr, as: UTF8.self).contains("Read-only file system"))
      let options = try await pods.exec(first, ["/bin/grep", " /vol ", "/proc/self/mountinfo"]).stdout
      let line = String(decoding: options, as: UTF8.self)
      #expect(line.contains(" ro,") && line.contains("nosuid") && line.contains("nodev"), "\(line)")
      // Only the sub path's directory; a symlink out of the image resolves inside it.
      #expect(try await pods.exec(second, ["/bin/ls", "/sub"]).stdout == Data("inner\n".utf8))
      #expect(try await pods.exec(second, ["/bin/ls", "/escaped"]).stdout == Data("image-marker\n".utf8))
      #expect(Self.views(pods).count == 1, "\(Self.views(pods))")

      // A sub path that is missing, a file, or a symlink to a directory the image lacks: refused, nothing left.
      for (subPath, reason) in [("missing", "no such directory"), ("data/hello", "not a directory"), ("abs/passwd", "no such directory")] {
        var bad = pods.containerConfig("bad", command: ["/bin/sleep", "1000"])
        bad.mounts = [Self.volume(image, at: "/x", subPath: subPath)]
        do {
          _ = try await pods.runContainer(pod, podConfig, bad)
          Issue.record("sub path \(subPath) was accepted")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument)
          #expect(error.message.contains("mounts[0].image_sub_path \"\(subPath)\": \(reason)"), "\(error.message)")
        }
      }
      #expect(Self.views(pods).count == 1)

      // The image is in use: refused, naming the container; both its names still resolve.
      do {
        try await Self.removeImage(pods, image)
        Issue.record("RemoveImage of an image in use succeeded")
      } catch let error as RPCError {
        #expect(error.code == .failedPrecondition)
        #expect(error.message.contains("is in use by container "), "\(error.message)")
        // Named by id, name and state.
        let named = [(first, "whole"), (second, "parts")].contains { error.message.contains("container \($0.0) (\($0.1), running)") }
        #expect(named, "\(error.message)")
        #expect(error.message.contains("remove the container first"))
      }
      let listed = try await pods.daemon.withClients { _, images in try await images.listImages(.init()).images.map(\.id) }
      #expect(listed.contains(imageID))

      try await pods.runtime { runtime in
        for id in [first, second] {
          _ = try await runtime.stopContainer(
            .with {
              $0.containerID = id; $0.timeout = 0
            })
          _ = try await runtime.removeContainer(.with { $0.containerID = id })
        }
      }
      #expect(Self.views(pods).isEmpty, "\(Self.views(pods))")
      try await Self.removeImage(pods, image)
      let after = try await pods.daemon.withClients { _, images in try await images.listImages(.init()).images.map(\.id) }
      #expect(!after.contains(imageID))
    }
  }

  @Test func aKilledDaemonKeepsTheViewAndALaterRemovalReleasesIt() async throws {
    try await PodHarness.with { pods in
      let (image, _) = try await Self.pullDataImage(pods)
      let podConfig = pods.podConfig("image-volume-restart")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("reader", command: ["/bin/sleep", "1000"])
      config.mounts = [Self.volume(image, at: "/vol", subPath: "data")]
      let id = try await pods.runContainer(pod, podConfig, config)
      let viewsBefore = Self.views(pods)
      #expect(viewsBefore.count == 1)

      pods.daemon.signal(SIGKILL)
      _ = try pods.daemon.waitForExit()
      try pods.daemon.start()
      #expect(try await pods.status(id).state == .containerRunning)
      #expect(Self.views(pods) == viewsBefore)
      #expect(try await pods.exec(id, ["/bin/cat", "/vol/hello"]).stdout == Data("from the image\n".utf8))

      try await pods.runtime { runtime in
        _ = try await runtime.stopContainer(
          .with {
            $0.containerID = id; $0.timeout = 0
          })
        _ = try await runtime.removeContainer(.with { $0.containerID = id })
      }
      #expect(Self.views(pods).isEmpty, "\(Self.views(pods))")
      try await Self.removeImage(pods, image)
    }
  }
}
