import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// Issue 17: crafted images pushed to a real registry on loopback (Tests/Fixtures/ocibuild.py). Each pull
/// must fail with a status naming what is wrong, leave the daemon answering, and leave nothing behind:
/// no blob, ingest file or snapshot the daemon did not have before. A second pull (the manifest may have
/// been stored by the first) must fail the same way.
@Suite(.serialized) struct HostileImageTests {
  /// What the daemon holds on disk: committed blobs, ingest files, snapshot directories.
  struct Holdings: Equatable, CustomStringConvertible {
    var blobs: [String]
    var ingests: [String]
    var snapshots: [String]
    init(_ daemon: DaemonHarness) {
      blobs = daemon.blobs
      ingests = daemon.ingests
      snapshots = daemon.snapshotDirectories
    }
    var description: String { "blobs \(blobs), ingests \(ingests), snapshots \(snapshots)" }
  }

  private func daemonFor(_ registry: RegistryHarness) throws -> DaemonHarness {
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    return daemon
  }

  /// Pulls `image` twice; each must fail with `code` and a message holding every one of `mentions`, with
  /// the daemon still answering and holding what it held before.
  private func expectRefused(_ daemon: DaemonHarness, _ image: String, code: RPCError.Code, mentions: [String]) async throws {
    let before = Holdings(daemon)
    for attempt in 1...2 {
      let error = await expectRPCError { _ = try await daemon.pull(image) }
      #expect(error?.code == code, "attempt \(attempt): \(String(describing: error?.code)) \(error?.message ?? "")")
      for mention in mentions {
        #expect(error?.message.contains(mention) == true, "attempt \(attempt): \"\(mention)\" not in \(error?.message ?? "")")
      }
      // The daemon is alive and answers.
      #expect(try await daemon.listImages().contains { $0.repoTags.contains("registry.k8s.io/pause:3.10") })
      #expect(Holdings(daemon) == before, "attempt \(attempt)")
    }
  }

  /// Item 2: a PAX `size` no tar can carry on a directory entry trapped the daemon.
  @Test func aPAXSizeOfTwoToTheSixtyThirdOnADirectory() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push([
      "repository": "evil/paxsize", "tag": "1",
      "images": [
        [
          "config": ["Cmd": ["/x"]],
          "layers": [
            ["compression": "gzip", "entries": [["path": "ok", "type": "file", "content": "fine"]]],
            [
              "compression": "gzip",
              "entries": [
                ["path": "d", "type": "dir", "pax": ["size": "9223372036854775807"]],
                ["path": "d/f", "type": "file", "content": "x"],
              ],
            ],
          ],
        ]
      ],
    ])
    let daemon = try daemonFor(registry)
    try await expectRefused(
      daemon, "\(registry.host)/evil/paxsize:1", code: .invalidArgument, mentions: [pushed.layers[1], "\"d/\"", "9223372036854775807"])
  }

  /// Item 2: a PAX record whose length field is huge overflowed `index + length` (after a first record).
  @Test func aPAXRecordWithAHugeLength() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push([
      "repository": "evil/paxlength", "tag": "1",
      "images": [
        [
          "config": ["Cmd": ["/x"]],
          "layers": [
            ["compression": "gzip", "entries": [["path": "f", "type": "file", "content": "x", "raw_pax": "9 a=bcde\n9223372036854775807 path=x\n"]]]
          ],
        ]
      ],
    ])
    let daemon = try daemonFor(registry)
    try await expectRefused(daemon, "\(registry.host)/evil/paxlength:1", code: .invalidArgument, mentions: [pushed.layers[0], "malformed PAX"])
  }

  /// Item 3: an index entry with an empty mediaType pointing at a manifest without one trapped on
  /// `split(";")[0]`, and again on every later pull once the manifest was stored.
  @Test func anIndexEntryWithAnEmptyMediaType() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push([
      "repository": "evil/mediatype", "tag": "1",
      "images": [
        [
          "platform": "linux/arm64/v8", "config": ["Cmd": ["/x"]],
          "layers": [["compression": "gzip", "entries": [["path": "a", "type": "file", "content": "arm"]]]],
        ],
        [
          "platform": "linux/amd64", "manifestMediaType": NSNull(), "indexMediaType": "", "config": ["Cmd": ["/x"]],
          "layers": [["compression": "gzip", "entries": [["path": "b", "type": "file", "content": "amd"]]]],
        ],
      ],
    ])
    let daemon = try daemonFor(registry)
    try await expectRefused(
      daemon, "\(registry.host)/evil/mediatype:1", code: .invalidArgument, mentions: ["manifests[1]", pushed.manifests[1], "mediaType"])
  }

  /// Item 8: declared sizes of 2^63-1 trapped when summed for progress, before any download.
  @Test func declaredBlobSizesNoImageHas() async throws {
    let registry = try RegistryHarness()
    let layer = try registry.push([
      "repository": "evil/layersize", "tag": "1",
      "images": [
        [
          "config": ["Cmd": ["/x"]],
          "layers": [
            ["compression": "gzip", "entries": [["path": "a", "type": "file", "content": "a"]]],
            ["compression": "gzip", "declaredSize": Int64.max, "entries": [["path": "b", "type": "file", "content": "b"]]],
          ],
        ]
      ],
    ])
    let config = try registry.push([
      "repository": "evil/configsize", "tag": "1", "images": [["config": ["Cmd": ["/y"]], "configDeclaredSize": Int64.max, "layers": []]],
    ])
    let negative = try registry.push([
      "repository": "evil/negative", "tag": "1",
      "images": [
        [
          "config": ["Cmd": ["/z"]],
          "layers": [["compression": "gzip", "declaredSize": -5, "entries": [["path": "c", "type": "file", "content": "c"]]]],
        ]
      ],
    ])
    let daemon = try daemonFor(registry)
    // The progress stream (crispctl pull) summed them first: through it too.
    let progress = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["pull", "--address", daemon.socketPath, "\(registry.host)/evil/layersize:1"])
    #expect(progress.status != 0)
    #expect(progress.output.contains(layer.layers[1]), "\(progress.output)")
    try await expectRefused(
      daemon, "\(registry.host)/evil/layersize:1", code: .invalidArgument, mentions: ["layers[1]", layer.layers[1], "9223372036854775807"])
    try await expectRefused(daemon, "\(registry.host)/evil/configsize:1", code: .invalidArgument, mentions: ["config", config.configs[0]])
    try await expectRefused(daemon, "\(registry.host)/evil/negative:1", code: .invalidArgument, mentions: ["layers[0]", negative.layers[0], "-5"])
  }

  /// A good layer then a bad one: the good layer's snapshot and every blob go with the refusal.
  @Test func whatARefusedImageBroughtIsCollected() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push([
      "repository": "evil/late", "tag": "1",
      "images": [
        [
          "config": ["Cmd": ["/x"]],
          "layers": [
            ["compression": "gzip", "entries": [["path": "good", "type": "file", "content": "good"]]],
            ["compression": "gzip", "entries": [["path": "../escape", "type": "file", "content": "bad"]]],
          ],
        ]
      ],
    ])
    let daemon = try daemonFor(registry)
    try await expectRefused(daemon, "\(registry.host)/evil/late:1", code: .invalidArgument, mentions: [pushed.layers[1], "escapes the layer"])
    // A good image still pulls afterwards.
    let good = try registry.push(busyboxSpec(repository: "good/app"))
    #expect(try await daemon.pull("\(registry.host)/good/app") == good.imageID)
  }

  /// Item 11: a global PAX header's xattr became an xattr of every later file. It reaches none now.
  @Test func globalPAXXattrsReachNoFile() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push([
      "repository": "evil/global", "tag": "1",
      "images": [
        [
          "config": ["Cmd": ["/x"]],
          "layers": [
            [
              "compression": "gzip", "global_pax": ["SCHILY.xattr.user.crispevil": "planted"],
              "entries": [
                ["path": "d", "type": "dir"], ["path": "d/f", "type": "file", "content": "x"], ["path": "g", "type": "file", "content": "y"],
              ],
            ]
          ],
        ]
      ],
    ])
    let daemon = try daemonFor(registry)
    #expect(try await daemon.pull("\(registry.host)/evil/global:1") == pushed.imageID)
    // Every file in every snapshot: none carries the attribute.
    let found = try TestEnvironment.shell(
      """
      python3 -c 'import os,sys
      hits=[]
      for top,dirs,files in os.walk(sys.argv[1]):
          for n in dirs+files:
              p=os.path.join(top,n)
              try:
                  if "user.crispevil" in os.listxattr(p, follow_symlinks=False): hits.append(p)
              except OSError: pass
      print(len(hits), *hits)' \(daemon.root)/snapshots
      """)
    #expect(found.hasPrefix("0"), "\(found)")
    // The files themselves were written (the layer was not skipped).
    let files = try TestEnvironment.shell("find \(daemon.root)/snapshots -name f -o -name g | wc -l")
    #expect(files.trimmingCharacters(in: .whitespacesAndNewlines) == "2", "\(files)")
  }
}

/// Item 12: what a registry's redirect may carry.
@Suite(.serialized) struct RedirectTests {
  private func start(_ mode: String) throws -> (RegistryHarness, PushedImage, BackgroundProcess, Int, Int, DaemonHarness) {
    let registry = try RegistryHarness()
    let pushed = try registry.push(busyboxSpec(repository: "redirect/app"))
    let front = TestEnvironment.freePort(), other = TestEnvironment.freePort()
    let server = try BackgroundProcess(
      "/usr/bin/python3", ["\(TestEnvironment.fixtures)/redirector.py", "\(front)", "\(other)", "\(registry.port)", mode],
      logPath: registry.directory + "/redirector.log")
    try TestEnvironment.waitForPort(front)
    try TestEnvironment.waitForPort(other)
    let daemon = try DaemonHarness()
    let host = "127.0.0.1:\(front)"
    let configPath = try writeHostsFile(daemon, host: host, "server = \"http://\(host)\"\n[header]\nX-Crisp-Secret = \"hush\"\n")
    try startDaemon(
      daemon,
      """
      [registry]
      config_path = "\(configPath)"
      [registry.configs."\(host)".auth]
      username = "alice"
      password = "s3cret"
      """)
    return (registry, pushed, server, front, other, daemon)
  }

  private func requests(_ server: BackgroundProcess) -> [[String: String]] {
    server.log.split(separator: "\n").compactMap { line in
      // Absent headers are JSON nulls: only the strings are kept.
      ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?.compactMapValues { $0 as? String }
    }
  }

  @Test func credentialsAndHeadersStayWithTheRegistryOrigin() async throws {
    let (registry, pushed, server, front, _, daemon) = try start("port")
    defer { withExtendedLifetime(registry) { server.stop() } }
    // Blobs come from another port of the same host: it is another server, and gets neither the
    // credentials nor the configured header. The pull still works (the other server needs neither).
    #expect(try await daemon.pull("127.0.0.1:\(front)/redirect/app") == pushed.imageID)
    let all = requests(server)
    let other = all.filter { $0["server"] == "other" }
    #expect(!other.isEmpty, "no request reached the redirect target: \(all)")
    for request in other {
      #expect(request["authorization"] == nil, "credentials went to another port: \(request)")
      #expect(request["secret"] == nil, "the hosts.toml header went to another port: \(request)")
    }
    // The registry itself got both.
    #expect(all.contains { $0["server"] == "front" && $0["authorization"]?.hasPrefix("Basic ") == true && $0["secret"] == "hush" })
  }

  @Test func onlyHTTPRedirectsAndABoundedChain() async throws {
    for (mode, expected) in [("unix", "only http and https"), ("loop", "more than 5 redirects")] {
      let (registry, _, server, front, _, daemon) = try start(mode)
      defer { withExtendedLifetime(registry) { server.stop() } }
      let error = await expectRPCError { _ = try await daemon.pull("127.0.0.1:\(front)/redirect/app") }
      #expect(error != nil, "\(mode)")
      #expect(error?.message.contains(expected) == true, "\(mode): \(error?.message ?? "")")
      #expect(daemon.ingests.isEmpty)
      #expect(try await daemon.listImages().contains { $0.repoTags.contains("registry.k8s.io/pause:3.10") })
    }
  }
}

/// Item 13: an image archive's blob names become paths only when they are digests.
@Suite(.serialized) struct HostileArchiveTests {
  @Test func aBlobNameWithDotDotIsRefused() async throws {
    let daemon = try DaemonHarness()
    try startDaemon(daemon, "")
    let blobsBefore = daemon.blobs, snapshotsBefore = daemon.snapshotDirectories
    let target = try TestEnvironment.temporaryDirectory("crisp-escape")
    defer { try? FileManager.default.removeItem(atPath: target) }
    let tree = daemon.directory + "/evil"
    // An OCI layout whose blob is named to land in `target`: from <root>/content/ingest, up to / and down.
    let climb = String(repeating: "../", count: daemon.root.split(separator: "/").count + 2)
    let name = "blobs/sha256/\(climb)\(target.dropFirst())/planted"
    try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
    try #"{"imageLayoutVersion":"1.0.0"}"#.write(toFile: tree + "/oci-layout", atomically: true, encoding: .utf8)
    try #"{"schemaVersion":2,"manifests":[]}"#.write(toFile: tree + "/index.json", atomically: true, encoding: .utf8)
    try "payload".write(toFile: tree + "/payload", atomically: true, encoding: .utf8)
    // GNU tar stores the name as given (--transform), `..` and all.
    try TestEnvironment.shell(
      "tar -C \(tree) -cf \(daemon.directory)/evil.tar --transform 's|^payload$|\(name)|' --absolute-names oci-layout payload index.json")
    let listing = try TestEnvironment.shell("tar -tf \(daemon.directory)/evil.tar")
    #expect(listing.contains(name), "\(listing)")

    let result = try DaemonHarness.run(
      DaemonHarness.crispctlBinary, ["images", "import", "--address", daemon.socketPath, daemon.directory + "/evil.tar"])
    #expect(result.status != 0)
    #expect(result.output.contains("is not a blob name"), "\(result.output)")
    #expect(result.output.contains("../"), "\(result.output)")
    #expect(
      result.output.contains("invalidArgument") || result.output.contains("InvalidArgument") || result.output.contains("invalid argument"),
      "\(result.output)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty)
    #expect(daemon.ingests.isEmpty)
    #expect(daemon.blobs == blobsBefore)
    #expect(daemon.snapshotDirectories == snapshotsBefore)
    #expect(try await daemon.listImages().contains { $0.repoTags.contains("registry.k8s.io/pause:3.10") })
  }
}
