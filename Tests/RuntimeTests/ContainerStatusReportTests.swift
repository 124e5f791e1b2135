import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// ContainerStatus reports what the container really runs with: the process's user and groups (kubelet
/// shows them in pod status), and the signal StopContainer sends (kubelet's, else the image's STOPSIGNAL,
/// else SIGTERM), which is the one the container gets.
@Suite(.serialized) struct ContainerStatusReportTests {
  @Test func statusShowsTheProcessUserAndGroupsAcrossARestart() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("user-status")
      let pod = try await pods.runPod(podConfig)
      var config = pods.containerConfig("ids", command: ["/bin/sleep", "1000"])
      config.linux.securityContext.runAsUser = .with { $0.value = 1000 }
      config.linux.securityContext.runAsGroup = .with { $0.value = 2000 }
      config.linux.securityContext.supplementalGroups = [3000, 3001]
      config.linux.securityContext.supplementalGroupsPolicy = .strict
      let id = try await pods.runContainer(pod, podConfig, config)
      let user = try await pods.status(id).user.linux
      #expect(user.uid == 1000)
      #expect(user.gid == 2000)
      #expect(user.supplementalGroups == [2000, 3000, 3001])
      // The same groups as the process itself is in.
      let groups = String(decoding: try await pods.exec(id, ["/bin/id", "-G"]).stdout, as: UTF8.self)
      #expect(groups.split(whereSeparator: \.isWhitespace).compactMap { Int64($0) } == user.supplementalGroups)

      // From the image's USER (www-data) with Merge: the image's /etc/group adds 1234.
      var merged = pods.containerConfig("merged", command: ["/bin/sleep", "1000"])
      merged.linux.securityContext.runAsUsername = "www-data"
      merged.linux.securityContext.supplementalGroupsPolicy = .merge
      let mergedID = try await pods.runContainer(pod, podConfig, merged)
      let mergedUser = try await pods.status(mergedID).user.linux
      #expect(mergedUser.uid == 33 && mergedUser.gid == 33)
      #expect(mergedUser.supplementalGroups == [33, 1234])

      // Kept with the container's record: a restarted daemon reports the same.
      pods.daemon.signal(SIGKILL)
      _ = try pods.daemon.waitForExit()
      try pods.daemon.start()
      let again = try await pods.status(id)
      #expect(again.user.linux == user)
      #expect(again.stopSignal == .sigterm)
    }
  }

  @Test func theImageStopSignalIsReportedAndSent() async throws {
    try await PodHarness.with { pods in
      // The harness's busybox layer under another name, with STOPSIGNAL SIGINT.
      let image = "\(pods.registry.host)/pods/stopsignal:1"
      try pods.registry.push([
        "repository": "pods/stopsignal", "tag": "1",
        "images": [
          [
            "config": ["Cmd": ["/bin/sh"], "Env": ["PATH=/bin"], "StopSignal": "SIGINT"],
            "layers": [
              [
                "compression": "gzip",
                "entries": [
                  ["path": "bin", "type": "dir"], ["path": "bin/busybox", "type": "file", "source": "/bin/busybox", "mode": 0o755],
                  ["path": "bin/sh", "type": "symlink", "target": "busybox"], ["path": "bin/sleep", "type": "symlink", "target": "busybox"],
                ],
              ]
            ],
          ]
        ],
      ])
      _ = try await pods.daemon.withClients { _, images in try await images.pullImage(.with { $0.image.image = image }) }
      let podConfig = pods.podConfig("stop-signal")
      let pod = try await pods.runPod(podConfig)
      // PID 1 exits with a code that says which signal it got.
      let script = "trap 'exit 42' INT; trap 'exit 43' TERM; trap 'exit 44' USR1; while true; do sleep 0.1; done"
      var fromImage = pods.containerConfig("from-image", command: ["/bin/sh", "-c", script])
      fromImage.image.image = image
      var fromKubelet = fromImage
      fromKubelet.metadata.name = "from-kubelet"
      fromKubelet.stopSignal = .sigusr1
      let plain = pods.containerConfig("plain", command: ["/bin/sh", "-c", script])
      var expected: [(String, Runtime_V1_Signal, Int32)] = []
      for (config, signal, code) in [(fromImage, Runtime_V1_Signal.sigint, Int32(42)), (fromKubelet, .sigusr1, 44), (plain, .sigterm, 43)] {
        expected.append((try await pods.runContainer(pod, podConfig, config), signal, code))
      }
      // Let each shell install its traps.
      try await Task.sleep(for: .milliseconds(500))
      for (id, signal, code) in expected {
        #expect(try await pods.status(id).stopSignal == signal)
        _ = try await pods.runtime {
          try await $0.stopContainer(
            .with {
              $0.containerID = id; $0.timeout = 10
            })
        }
        let stopped = try await pods.status(id)
        #expect(stopped.exitCode == code, "\(signal): exit \(stopped.exitCode)")
        #expect(stopped.stopSignal == signal)
      }
    }
  }
}
