import CRIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import TestSupport

/// A small busybox-based image spec for ocibuild.py.
func busyboxSpec(
  repository: String, tag: String = "latest", user: String? = nil, marker: String = "v1", compression: String = "gzip", mediaTypes: String = "oci"
) -> [String: Any] {
  var config: [String: Any] = ["Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]]
  if let user { config["User"] = user }
  return [
    "repository": repository, "tag": tag, "mediaTypes": mediaTypes,
    "images": [
      [
        "platform": "linux/amd64", "config": config,
        "layers": [
          [
            "compression": compression,
            "entries": [
              ["path": "bin", "type": "dir"],
              ["path": "bin/busybox", "type": "file", "source": "/bin/busybox", "mode": 0o755],
              ["path": "bin/sh", "type": "symlink", "target": "busybox"],
            ],
          ],
          ["compression": compression, "entries": [["path": "etc/marker", "type": "file", "content": marker]]],
        ],
      ]
    ],
  ]
}

/// Writes `<daemon dir>/certs.d/<host>/hosts.toml` and returns the config_path to use.
func writeHostsFile(_ daemon: DaemonHarness, host: String, _ content: String) throws -> String {
  let directory = daemon.directory + "/certs.d/" + host
  try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  try content.write(toFile: directory + "/hosts.toml", atomically: true, encoding: .utf8)
  return daemon.directory + "/certs.d"
}

/// Starts a daemon whose registry configuration is `registryTOML` (TOML placed at the top of the file).
func startDaemon(_ daemon: DaemonHarness, _ extra: String) throws {
  try daemon.writeConfig(extra)
  try daemon.start()
}

extension DaemonHarness {
  func pull(_ image: String, auth: Runtime_V1_AuthConfig? = nil) async throws -> String {
    try await withClients { _, images in
      try await images.pullImage(
        .with {
          $0.image.image = image
          if let auth { $0.auth = auth }
        }
      ).imageRef
    }
  }

  func imageStatus(_ image: String) async throws -> Runtime_V1_ImageStatusResponse {
    try await withClients { _, images in
      try await images.imageStatus(
        .with {
          $0.image.image = image; $0.verbose = true
        })
    }
  }

  func listImages() async throws -> [Runtime_V1_Image] {
    try await withClients { _, images in try await images.listImages(.init()).images }
  }

  func removeImage(_ image: String) async throws {
    try await withClients { _, images in _ = try await images.removeImage(.with { $0.image.image = image }) }
  }

  /// Snapshot directories and committed blobs currently on disk.
  var snapshotDirectories: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: root + "/snapshots")) ?? []).sorted() }
  var blobs: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: root + "/content/blobs/sha256")) ?? []).sorted() }
  var ingests: [String] { (try? FileManager.default.contentsOfDirectory(atPath: root + "/content/ingest")) ?? [] }
}

/// Expects `body` to fail with an RPCError and returns it.
func expectRPCError(_ body: () async throws -> Void) async -> RPCError? {
  do {
    try await body()
    return nil
  } catch let error as RPCError {
    return error
  } catch {
    return RPCError(code: .unknown, message: "\(error)")
  }
}
