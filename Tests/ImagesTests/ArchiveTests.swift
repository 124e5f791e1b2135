import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// Air-gapped workflows: images in and out as archives through crispctl and the admin API.
@Suite(.serialized) struct ArchiveTests {
  @Test func exportRemoveImportKeepsTheId() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push(busyboxSpec(repository: "air/app", tag: "7"))
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let name = "\(registry.host)/air/app:7"
    #expect(try await daemon.pull(name) == pushed.imageID)

    let archive = daemon.directory + "/app.tar"
    let export = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["images", "export", "--address", daemon.socketPath, "-o", archive, name])
    #expect(export.status == 0, "\(export.output)")
    // The archive is an OCI layout with a docker manifest.json beside it.
    let listing = try TestEnvironment.shell("tar -tf \(archive)")
    for entry in ["oci-layout", "index.json", "manifest.json", "blobs/sha256/\(pushed.imageID.dropFirst(7))"] {
      #expect(listing.contains(entry), "archive lacks \(entry)")
    }
    registry.stop()
    try await daemon.removeImage(name)
    #expect(!(try await daemon.imageStatus(name).hasImage))

    let imported = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["images", "import", "--address", daemon.socketPath, archive])
    #expect(imported.status == 0, "\(imported.output)")
    #expect(imported.output.contains(pushed.imageID))
    let status = try await daemon.imageStatus(name)
    #expect(status.image.id == pushed.imageID)
    #expect(status.image.repoTags == [name])
  }

  @Test func importsADockerArchiveMadeByAnotherTool() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push(busyboxSpec(repository: "other/tool", tag: "1", mediaTypes: "docker"))
    let directory = try TestEnvironment.temporaryDirectory("crisp-archive")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let archive = directory + "/docker.tar"
    try TestEnvironment.shell(
      "skopeo copy --src-tls-verify=false docker://\(registry.host)/other/tool:1 docker-archive:\(archive):example.org/other/tool:1 2>&1")

    let daemon = try DaemonHarness()
    try startDaemon(daemon, "")
    let result = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["images", "import", "--address", daemon.socketPath, archive])
    #expect(result.status == 0, "\(result.output)")
    let status = try await daemon.imageStatus("example.org/other/tool:1")
    #expect(status.image.id == pushed.imageID)
  }

  @Test func aMalformedArchiveImportsNothing() async throws {
    let daemon = try DaemonHarness()
    try startDaemon(daemon, "")
    let before = try await daemon.listImages().map(\.id)
    let directory = daemon.directory + "/bad"
    try FileManager.default.createDirectory(atPath: directory + "/tree", withIntermediateDirectories: true)
    // manifest.json naming a layer the archive does not carry.
    try #"[{"Config":"config.json","RepoTags":["example.org/broken:1"],"Layers":["missing/layer.tar"]}]"#
      .write(toFile: directory + "/tree/manifest.json", atomically: true, encoding: .utf8)
    try #"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:\#(String(repeating: "a", count: 64))"]}}"#
      .write(toFile: directory + "/tree/config.json", atomically: true, encoding: .utf8)
    try TestEnvironment.shell("tar -C \(directory)/tree -cf \(directory)/missing.tar manifest.json config.json")
    let missing = try DaemonHarness.run(
      DaemonHarness.crispctlBinary, ["images", "import", "--address", daemon.socketPath, directory + "/missing.tar"])
    #expect(missing.status != 0)
    #expect(missing.output.contains("missing/layer.tar"))

    // A truncated archive.
    try TestEnvironment.shell(
      "head -c 700 /bin/busybox > \(directory)/blob && tar -C \(directory) -cf \(directory)/full.tar blob && head -c 1000 \(directory)/full.tar > \(directory)/truncated.tar"
    )
    let truncated = try DaemonHarness.run(
      DaemonHarness.crispctlBinary, ["images", "import", "--address", daemon.socketPath, directory + "/truncated.tar"])
    #expect(truncated.status != 0)
    #expect(truncated.output.contains("truncated"))

    #expect(try await daemon.listImages().map(\.id) == before)
  }
}
