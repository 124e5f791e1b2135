import CRIAPI
import Foundation
import GRPCCore
import Testing
import TestSupport

/// Pulls through the CRI socket from real registries on loopback (Debian's docker-registry), with images
/// built and pushed by Tests/Fixtures/ocibuild.py, a client independent of crisp.
@Suite(.serialized) struct RegistryPullTests {
  @Test func pullByTagByDigestAndWithoutTag() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push(busyboxSpec(repository: "test/app", user: "1002"))
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")

    // No tag means latest.
    let id = try await daemon.pull("\(registry.host)/test/app")
    #expect(id == pushed.imageID)
    let byDigest = try await daemon.pull("\(registry.host)/test/app@\(pushed.top)")
    #expect(byDigest == id)

    let images = try await daemon.listImages().filter { $0.id == id }
    #expect(images.count == 1)
    #expect(images.first?.repoTags == ["\(registry.host)/test/app:latest"])
    #expect(images.first?.repoDigests == ["\(registry.host)/test/app@\(pushed.top)"])
    #expect(images.first?.uid.value == 1002)
    #expect(images.first?.pinned == false)

    // Status by every reference form kubelet and crictl use.
    let hex = String(id.dropFirst(7))
    for form in [
      id, hex, String(hex.prefix(12)), "\(registry.host)/test/app", "\(registry.host)/test/app:latest", "\(registry.host)/test/app@\(pushed.top)",
    ] {
      let status = try await daemon.imageStatus(form)
      #expect(status.image.id == id, "status by \(form)")
    }
    let status = try await daemon.imageStatus(id)
    let info = try #require(try JSONSerialization.jsonObject(with: Data((status.info["info"] ?? "").utf8)) as? [String: Any])
    let imageSpec = try #require(info["imageSpec"] as? [String: Any], "\(info.keys)")
    #expect((imageSpec["config"] as? [String: Any])?["User"] as? String == "1002")
    #expect((info["chainID"] as? String)?.hasPrefix("sha256:") == true, "\(info)")
    // Missing image: no image and no error.
    let missing = try await daemon.imageStatus("\(registry.host)/test/absent:1")
    #expect(!missing.hasImage)
    // The pause image is there too, pinned; the pulled image is listed with its id everywhere.
    #expect(try await daemon.listImages().contains { $0.pinned && $0.repoTags == ["registry.k8s.io/pause:3.10"] })
  }

  @Test func indexPicksTheHostPlatformAndDockerTypesAndZstdWork() async throws {
    let registry = try RegistryHarness()
    var spec = busyboxSpec(repository: "multi/app", tag: "1")
    var images = spec["images"] as? [[String: Any]] ?? []
    var arm = images[0]
    arm["platform"] = "linux/arm64/v8"
    arm["layers"] = [["compression": "gzip", "entries": [["path": "arm", "type": "file", "content": "arm64"]]]]
    images.insert(arm, at: 0)
    var s390 = arm
    s390["platform"] = "linux/s390x"
    images.append(s390)
    spec["images"] = images
    let index = try registry.push(spec)
    let docker = try registry.push(busyboxSpec(repository: "docker/app", mediaTypes: "docker"))
    let zstd = try registry.push(busyboxSpec(repository: "zstd/app", marker: "zstd", compression: "zstd"))

    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let id = try await daemon.pull("\(registry.host)/multi/app:1")
    // The amd64 entry is the second image in the index.
    #expect(id == index.configs[1])
    #expect(try await daemon.pull("\(registry.host)/docker/app") == docker.imageID)
    #expect(try await daemon.pull("\(registry.host)/zstd/app") == zstd.imageID)
  }

  @Test func indexWithoutTheHostPlatformListsWhatItOffers() async throws {
    let registry = try RegistryHarness()
    var spec = busyboxSpec(repository: "foreign/app")
    var only = (spec["images"] as? [[String: Any]] ?? [])[0]
    only["platform"] = "linux/arm64/v8"
    var other = only
    other["platform"] = "linux/ppc64le"
    spec["images"] = [only, other]
    try registry.push(spec)
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let error = await expectRPCError { _ = try await daemon.pull("\(registry.host)/foreign/app") }
    #expect(error?.code == .notFound)
    #expect(error?.message.contains("linux/arm64/v8") == true)
    #expect(error?.message.contains("linux/ppc64le") == true)
  }

  @Test func basicAuthWithCRIAndConfiguredCredentials() async throws {
    // Push to an open registry, then serve the same storage behind htpasswd.
    let open = try RegistryHarness()
    let pushed = try open.push(busyboxSpec(repository: "private/app"))
    open.stop()
    let registry = try RegistryHarness(auth: .htpasswd(username: "alice", password: "s3cret"), storage: open.storage)

    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let anonymous = await expectRPCError { _ = try await daemon.pull("\(registry.host)/private/app") }
    #expect(anonymous?.code == .unauthenticated)
    #expect(anonymous?.message.contains("requires credentials") == true)

    let wrong = await expectRPCError {
      _ = try await daemon.pull(
        "\(registry.host)/private/app",
        auth: .with {
          $0.username = "alice"; $0.password = "nope"
        })
    }
    #expect(wrong?.code == .unauthenticated)
    #expect(wrong?.message.contains("nope") == false)

    let id = try await daemon.pull(
      "\(registry.host)/private/app",
      auth: .with {
        $0.username = "alice"; $0.password = "s3cret"
      })
    #expect(id == pushed.imageID)
    // Credentials never reach the log.
    #expect(!daemon.log.contains("s3cret"))

    // The configuration's credentials, as base64 `auth`.
    let second = try DaemonHarness()
    let secondPath = try writeHostsFile(second, host: registry.host, "server = \"http://\(registry.host)\"\n")
    let auth = Data("alice:s3cret".utf8).base64EncodedString()
    try startDaemon(
      second,
      """
      [registry]
      config_path = "\(secondPath)"
      [registry.configs."\(registry.host)".auth]
      auth = "\(auth)"
      """)
    #expect(try await second.pull("\(registry.host)/private/app") == pushed.imageID)
  }

  @Test func bearerTokenFromATokenIssuer() async throws {
    let open = try RegistryHarness()
    let pushed = try open.push(busyboxSpec(repository: "team/app"))
    open.stop()
    let keys = try TestEnvironment.temporaryDirectory("crisp-token")
    defer { try? FileManager.default.removeItem(atPath: keys) }
    let signing = try makeCertificate(in: keys, name: "token", commonName: "crisp-token-issuer")
    let tokenPort = TestEnvironment.freePort()
    let issuer = try BackgroundProcess(
      "/usr/bin/python3",
      ["\(TestEnvironment.fixtures)/tokenserver.py", "\(tokenPort)", signing.key, signing.certificate, "crisp-test-issuer", "bob", "hunter2"],
      logPath: keys + "/token.log")
    try TestEnvironment.waitForPort(tokenPort)
    let registry = try RegistryHarness(
      auth: .token(
        realm: "http://127.0.0.1:\(tokenPort)/token", service: "crisp-registry", issuer: "crisp-test-issuer", certificate: signing.certificate),
      storage: open.storage)

    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    // Anonymous: the issuer hands out a token without access; the registry refuses it.
    let anonymous = await expectRPCError { _ = try await daemon.pull("\(registry.host)/team/app") }
    #expect(anonymous?.code == .unauthenticated)
    // Username and password: a token by GET with Basic credentials.
    #expect(
      try await daemon.pull(
        "\(registry.host)/team/app",
        auth: .with {
          $0.username = "bob"; $0.password = "hunter2"
        }) == pushed.imageID)
    #expect(issuer.log.contains("\"how\": \"basic\", \"authorized\": true"))
    // An identity (refresh) token: a token by POST form.
    try await daemon.removeImage(pushed.imageID)
    #expect(try await daemon.pull("\(registry.host)/team/app", auth: .with { $0.identityToken = "hunter2" }) == pushed.imageID)
    #expect(issuer.log.contains("\"how\": \"refresh_token\", \"authorized\": true"))
  }

  @Test func mirrorsFallBackAndCarryTheNamespace() async throws {
    let upstream = try RegistryHarness()
    let pushed = try upstream.push(busyboxSpec(repository: "lib/app"))
    let emptyMirror = try RegistryHarness()
    let closedPort = TestEnvironment.freePort()

    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(
      daemon, host: upstream.host,
      """
      server = "http://\(upstream.host)"

      [host."http://127.0.0.1:\(closedPort)"]
        capabilities = ["pull", "resolve"]
        dial_timeout = "1s"

      [host."http://\(emptyMirror.host)"]
        capabilities = ["pull", "resolve"]
      """)
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let start = ContinuousClock.now
    #expect(try await daemon.pull("\(upstream.host)/lib/app") == pushed.imageID)
    #expect(ContinuousClock.now - start < .seconds(15))
    // The mirror was asked first, with the original registry as `ns`.
    #expect(emptyMirror.log.contains("/v2/lib/app/manifests/latest?ns=\(upstream.host)"))

    // A registry that has the image only on its mirror.
    let mirror = try RegistryHarness()
    let mirrored = try mirror.push(busyboxSpec(repository: "only/onmirror", marker: "mirror"))
    let _ = try writeHostsFile(
      daemon, host: "registry.invalid",
      """
      server = "http://127.0.0.1:\(closedPort)"
      [host."http://\(mirror.host)"]
      """)
    // hosts.toml is read on every pull: no restart needed.
    #expect(try await daemon.pull("registry.invalid/only/onmirror") == mirrored.imageID)

    // Every host failing names every host and its answer.
    let error = await expectRPCError { _ = try await daemon.pull("\(upstream.host)/lib/missing") }
    #expect(error?.code == .notFound)
    #expect(error?.message.contains("127.0.0.1:\(closedPort)") == true)
    #expect(error?.message.contains(emptyMirror.host) == true)
    #expect(error?.message.contains("404") == true)
  }

  @Test func inlineMirrorsGiveTheSameResult() async throws {
    let upstream = try RegistryHarness()
    let pushed = try upstream.push(busyboxSpec(repository: "lib/app"))
    let emptyMirror = try RegistryHarness()
    let daemon = try DaemonHarness()
    try startDaemon(
      daemon,
      """
      [registry.mirrors."\(upstream.host)"]
      endpoint = ["http://\(emptyMirror.host)", "http://\(upstream.host)"]
      """)
    #expect(try await daemon.pull("\(upstream.host)/lib/app") == pushed.imageID)
    #expect(emptyMirror.log.contains("ns=\(upstream.host)"))
  }

  @Test func tlsRegistryNeedsItsCAOrSkipVerify() async throws {
    let keys = try TestEnvironment.temporaryDirectory("crisp-tls")
    defer { try? FileManager.default.removeItem(atPath: keys) }
    let certificate = try makeCertificate(in: keys, name: "registry")
    let open = try RegistryHarness()
    let pushed = try open.push(busyboxSpec(repository: "secure/app"))
    open.stop()
    let registry = try RegistryHarness(tls: certificate, storage: open.storage)

    for (hosts, works) in [
      ("server = \"https://\(registry.host)\"\n", false),
      ("server = \"https://\(registry.host)\"\nca = \"\(certificate.certificate)\"\n", true),
      ("server = \"https://\(registry.host)\"\nskip_verify = true\n", true),
    ] {
      let daemon = try DaemonHarness()
      let configPath = try writeHostsFile(daemon, host: registry.host, hosts)
      try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
      if works {
        #expect(try await daemon.pull("\(registry.host)/secure/app") == pushed.imageID, "\(hosts)")
      } else {
        let error = await expectRPCError { _ = try await daemon.pull("\(registry.host)/secure/app") }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("https://\(registry.host): certificate not trusted") == true, "\(error?.message ?? "")")
      }
    }
    registry.stop()
    // A trusted certificate for another name only (no IP address in it): dialled as 127.0.0.1, the name is wrong.
    let other = (certificate: "\(keys)/other.crt", key: "\(keys)/other.key")
    try TestEnvironment.shell(
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout \(other.key) -out \(other.certificate) -days 2 -subj /CN=registry.example -addext subjectAltName=DNS:registry.example 2>&1"
    )
    let misnamed = try RegistryHarness(tls: other, storage: open.storage)
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: misnamed.host, "server = \"https://\(misnamed.host)\"\nca = \"\(other.certificate)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let mismatch = await expectRPCError { _ = try await daemon.pull("\(misnamed.host)/secure/app") }
    #expect(mismatch?.message.contains("certificate is not valid for 127.0.0.1") == true, "\(mismatch?.message ?? "")")
  }

  @Test func aRegistryOnTheNodeWithoutHostsTomlIsTriedOverHTTPSThenHTTP() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push(busyboxSpec(repository: "local/app"))
    let daemon = try DaemonHarness()
    // An empty certs.d: no hosts.toml for any registry, nothing from the machine's /etc.
    let certs = daemon.directory + "/certs.d"
    try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(certs)\"")
    #expect(try await daemon.pull("\(registry.host)/local/app") == pushed.imageID)
    try await daemon.removeImage(pushed.imageID)
    #expect(try await daemon.pull("localhost:\(registry.port)/local/app") == pushed.imageID)
    // Every request went over plain HTTP in the end.
    #expect(registry.log.contains("GET /v2/local/app/manifests/latest"))

    // Nothing listens: refused is not "no TLS", so no plain-HTTP attempt is claimed, and the message says so.
    let closed = TestEnvironment.freePort()
    let refused = await expectRPCError { _ = try await daemon.pull("127.0.0.1:\(closed)/local/app") }
    #expect(refused?.code == .unavailable)
    #expect(refused?.message.contains("connection refused to 127.0.0.1:\(closed): is the registry running?") == true, "\(refused?.message ?? "")")
    #expect(refused?.message.contains("http://127.0.0.1:\(closed)") == false, "\(refused?.message ?? "")")
  }

  @Test func transportFailuresAreExplainedToTheOperator() async throws {
    let registry = try RegistryHarness()
    try registry.push(busyboxSpec(repository: "plain/app"))
    let daemon = try DaemonHarness()
    // hosts.toml says https for a plain-HTTP port: no fallback, and the error says what to change.
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"https://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let notTLS = await expectRPCError { _ = try await daemon.pull("\(registry.host)/plain/app") }
    #expect(notTLS?.code == .unavailable)
    let expected =
      "https://\(registry.host): the server did not answer TLS (a plain-HTTP registry? set server = \"http://\(registry.host)\" in hosts.toml)"
    #expect(notTLS?.message.contains(expected) == true, "\(notTLS?.message ?? "")")
    #expect(notTLS?.message.contains("BoringSSL") == false)
    #expect(notTLS?.message.contains("NIOSSLError") == false)
    // crispctl pull prints the same explanation.
    let pulled = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["pull", "--address", daemon.socketPath, "\(registry.host)/plain/app"])
    #expect(pulled.status != 0)
    #expect(pulled.output.contains("the server did not answer TLS"), "\(pulled.output)")

    // A closed port named in hosts.toml.
    let closed = TestEnvironment.freePort()
    _ = try writeHostsFile(daemon, host: "127.0.0.1:\(closed)", "server = \"http://127.0.0.1:\(closed)\"\n")
    let refused = await expectRPCError { _ = try await daemon.pull("127.0.0.1:\(closed)/plain/app") }
    #expect(refused?.message.contains("connection refused to 127.0.0.1:\(closed): is the registry running?") == true, "\(refused?.message ?? "")")
  }

  @Test func tamperedBlobFailsThePullAndLeavesTheStoreUnchanged() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push(busyboxSpec(repository: "evil/tampered", marker: "tamper me"))
    // The registry serves whatever is in its storage: change the second layer's bytes behind its back.
    let path = registry.blobPath(pushed.layers[1])
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[bytes.count / 2] ^= 0xff
    try Data(bytes).write(to: URL(fileURLWithPath: path))

    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let snapshotsBefore = daemon.snapshotDirectories
    let error = await expectRPCError { _ = try await daemon.pull("\(registry.host)/evil/tampered") }
    #expect(error != nil)
    #expect(error?.message.contains("digest mismatch") == true)
    #expect(error?.message.contains(pushed.layers[1]) == true)
    #expect(!daemon.blobs.contains(String(pushed.layers[1].dropFirst(7))))
    #expect(daemon.ingests.isEmpty)
    #expect(try await daemon.listImages().allSatisfy { $0.id != pushed.imageID })
    // The layers that were good may stay in the content store for a retry, but no snapshot of the bad one.
    #expect(daemon.snapshotDirectories.count <= snapshotsBefore.count + 1)
  }

  @Test func aStalledDownloadIsCancelledAfterTheProgressTimeout() async throws {
    let registry = try RegistryHarness()
    var spec = busyboxSpec(repository: "slow/app")
    var images = spec["images"] as? [[String: Any]] ?? []
    images[0]["layers"] = [["compression": "none", "entries": [["path": "big", "type": "file", "size": 256 * 1024]]]]
    spec["images"] = images
    try registry.push(spec)
    let proxyPort = TestEnvironment.freePort()
    let proxy = try BackgroundProcess(
      "/usr/bin/python3", ["\(TestEnvironment.fixtures)/slowproxy.py", "\(proxyPort)", "\(registry.port)", "stall"],
      logPath: registry.directory + "/proxy.log")
    try TestEnvironment.waitForPort(proxyPort)
    defer { proxy.stop() }
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: "127.0.0.1:\(proxyPort)", "server = \"http://127.0.0.1:\(proxyPort)\"\n")
    try startDaemon(daemon, "image_pull_progress_timeout = \"2s\"\n[registry]\nconfig_path = \"\(configPath)\"")
    let start = ContinuousClock.now
    let error = await expectRPCError { _ = try await daemon.pull("127.0.0.1:\(proxyPort)/slow/app") }
    #expect(error?.message.contains("progress timeout") == true, "\(error?.message ?? "")")
    #expect(ContinuousClock.now - start < .seconds(20))
    #expect(daemon.ingests.isEmpty)
  }

  @Test func aDaemonKilledMidDownloadLeavesNoPartialBlob() async throws {
    let registry = try RegistryHarness()
    var spec = busyboxSpec(repository: "big/app")
    var images = spec["images"] as? [[String: Any]] ?? []
    images[0]["layers"] = [["compression": "none", "entries": [["path": "big", "type": "file", "size": 8 * 1024 * 1024]]]]
    spec["images"] = images
    let pushed = try registry.push(spec)
    let proxyPort = TestEnvironment.freePort()
    let proxy = try BackgroundProcess(
      "/usr/bin/python3", ["\(TestEnvironment.fixtures)/slowproxy.py", "\(proxyPort)", "\(registry.port)", "slow", "\(1 << 20)"],
      logPath: registry.directory + "/proxy.log")
    try TestEnvironment.waitForPort(proxyPort)
    defer { proxy.stop() }

    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: "127.0.0.1:\(proxyPort)", "server = \"http://127.0.0.1:\(proxyPort)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let pull = Task { try? await daemon.pull("127.0.0.1:\(proxyPort)/big/app") }
    // Wait until the layer is partly downloaded, then kill the daemon.
    let deadline = ContinuousClock.now + .seconds(30)
    while daemon.ingests.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
    try await Task.sleep(for: .milliseconds(500))
    #expect(!daemon.ingests.isEmpty)
    daemon.signal(SIGKILL)
    _ = try daemon.waitForExit()
    _ = await pull.value
    #expect(!daemon.blobs.contains(String(pushed.layers[0].dropFirst(7))))

    try daemon.start()
    #expect(daemon.ingests.isEmpty)
    #expect(try await daemon.pull("127.0.0.1:\(proxyPort)/big/app") == pushed.imageID)
    #expect(daemon.ingests.isEmpty)
  }
}

@Suite struct ConcurrentPullTests {
  @Test func concurrentPullsOfOneImageShareTheDownloads() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push(busyboxSpec(repository: "shared/app"))
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let ids = try await withThrowingTaskGroup(of: String.self) { group in
      for _ in 0..<4 { group.addTask { try await daemon.pull("\(registry.host)/shared/app") } }
      var ids: [String] = []
      for try await id in group { ids.append(id) }
      return ids
    }
    #expect(ids == Array(repeating: pushed.imageID, count: 4))
    // Each layer blob crossed the wire once.
    for layer in pushed.layers {
      let fetches = registry.log.components(separatedBy: "GET /v2/shared/app/blobs/\(layer)").count - 1
      #expect(fetches == 1, "layer \(layer) fetched \(fetches) times")
    }
  }
}

/// `crispctl pull`: the admin PullImage stream reports layers and bytes as the pull goes, and ends with the
/// image, which is then listed like any CRI pull.
@Suite(.serialized) struct PullProgressTests {
  @Test func crispctlPullShowsProgressToTheEnd() async throws {
    let registry = try RegistryHarness()
    let pushed = try registry.push(busyboxSpec(repository: "test/progress"))
    let daemon = try DaemonHarness()
    let configPath = try writeHostsFile(daemon, host: registry.host, "server = \"http://\(registry.host)\"\n")
    try startDaemon(daemon, "[registry]\nconfig_path = \"\(configPath)\"")
    let pulled = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["pull", "--address", daemon.socketPath, "\(registry.host)/test/progress"])
    #expect(pulled.status == 0, "\(pulled.output)")
    // The layers came from the registry: docker's words for that, not "up to date".
    #expect(pulled.output.contains("Downloaded newer image for \(pushed.imageID)"), "\(pulled.output)")
    #expect(!pulled.output.contains("Image is up to date"), "\(pulled.output)")
    // Not a terminal: one progress line per update; the last one is complete.
    let lines = pulled.output.split(separator: "\n").filter { $0.hasPrefix("pull: ") }
    #expect(lines.last?.contains("2/2 layers") == true, "\(pulled.output)")
    #expect(try await daemon.listImages().contains { $0.id == pushed.imageID })
    // The same pull again downloads nothing (only the manifest is asked for): up to date.
    let again = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["pull", "--address", daemon.socketPath, "\(registry.host)/test/progress"])
    #expect(again.status == 0, "\(again.output)")
    #expect(again.output.contains("Image is up to date for \(pushed.imageID)"), "\(again.output)")
    #expect(!again.output.contains("Downloaded newer image"), "\(again.output)")
    // A pull that fails ends with the status, non-zero.
    let missing = try DaemonHarness.run(DaemonHarness.crispctlBinary, ["pull", "--address", daemon.socketPath, "\(registry.host)/test/absent:1"])
    #expect(missing.status != 0)
    #expect(missing.output.contains("notFound") || missing.output.contains("not found"), "\(missing.output)")
  }
}
