import Config
import Foundation
import Testing

@Suite struct ConfigLoaderTests {
  @Test func defaultConfigurationRoundTrips() throws {
    let rendered = ConfigRenderer.render(CrispConfig())
    let loaded = try ConfigLoader.parse(rendered)
    #expect(loaded == CrispConfig())
  }

  @Test func emptyFileMeansDefaults() throws {
    #expect(try ConfigLoader.parse("") == CrispConfig())
  }

  @Test func customValuesRoundTrip() throws {
    var config = CrispConfig()
    config.root = "/data/crisp"
    config.oomScore = -500
    config.cgroupDriver = .systemd
    config.pinnedImages = ["registry.local/app:1", "quote\"d"]
    config.imagePullProgressTimeout = .seconds(90)
    config.registry.configPath = ""
    config.registry.mirrors["docker.io"] = .init(endpoints: ["https://mirror.local", "http://10.0.0.1:5000"])
    config.registry.configs["harbor.local"] = .init(
      auth: .init(username: "robot$ci", password: "p@ss word"), tls: .init(caFile: "/etc/ca.pem", insecureSkipVerify: true))
    config.runtime.handlers["kata-like"] = .init(
      binary: "/opt/bin/runsc", root: "/run/runsc", systemdCgroup: true, podAnnotations: ["io.example/*", "a\\*b"],
      containerAnnotations: ["io.katacontainers.*"], deviceOwnershipFromSecurityContext: true)
    config.cdi.specDirs = ["/opt/cdi", "/run/cdi"]
    config.streaming.port = 10010
    config.streaming.idleTimeout = TimeSpan(parsing: "1h30m")!
    config.streaming.streamCreationTimeout = .seconds(5)
    config.metrics.address = "127.0.0.1:1338"
    config.tracing.endpoint = "https://collector.example:4318/otlp/v1/traces"
    config.tracing.exportProtocol = .httpProtobuf
    config.tracing.samplingRatio = 0.25
    config.tracing.serviceName = "crisp-node-7"
    let loaded = try ConfigLoader.parse(ConfigRenderer.render(config))
    #expect(loaded == config)
  }

  /// Parses `text` expecting failure; returns the error.
  private func failure(_ text: String) -> ConfigError? {
    do {
      _ = try ConfigLoader.parse(text, source: "test.toml")
      return nil
    } catch {
      return error
    }
  }

  @Test func cdiKeys() throws {
    let loaded = try ConfigLoader.parse(
      "[cdi]\nspec_dirs = []\n[runtime.handlers.runc]\nbinary = \"/usr/bin/runc\"\ndevice_ownership_from_security_context = true\n")
    #expect(loaded.cdi.specDirs.isEmpty)
    #expect(loaded.runtime.handlers["runc"]?.deviceOwnershipFromSecurityContext == true)
    #expect(CrispConfig().cdi.specDirs == ["/etc/cdi", "/var/run/cdi"])
    #expect(CrispConfig().runtime.handlers["runc"]?.deviceOwnershipFromSecurityContext == false)
    let relative = try #require(failure("[cdi]\nspec_dirs = [\"/etc/cdi\", \"cdi\"]\n"))
    #expect(relative.key == "cdi.spec_dirs")
    #expect(relative.message.contains("absolute path"))
    let twice = try #require(failure("[cdi]\nspec_dirs = [\"/etc/cdi\", \"/etc/cdi\"]\n"))
    #expect(twice.message.contains("listed twice"))
    let typo = try #require(failure("[cdi]\nspec_dir = [\"/etc/cdi\"]\n"))
    #expect(typo.key == "cdi.spec_dir")
  }

  @Test func tracingKeys() throws {
    #expect(!CrispConfig().tracing.enabled)
    #expect(CrispConfig().tracing.exportProtocol == .grpc)
    #expect(CrispConfig().tracing.samplingRatio == 1.0)
    #expect(CrispConfig().tracing.serviceName == "crisp")
    let loaded = try ConfigLoader.parse(
      "[tracing]\nendpoint = \"http://127.0.0.1:4318\"\nprotocol = \"http/protobuf\"\nsampling_ratio = 0\nservice_name = \"n\"\n")
    #expect(loaded.tracing.enabled)
    #expect(loaded.tracing.exportProtocol == .httpProtobuf)
    // An integer is taken as a float.
    #expect(loaded.tracing.samplingRatio == 0.0)
    #expect(loaded.tracing.serviceName == "n")
    #expect(try ConfigLoader.parse("[tracing]\nsampling_ratio = 1e-2\n").tracing.samplingRatio == 0.01)
  }

  @Test func tracingValuesOutOfRangeAreNamedWithTheirLine() throws {
    let high = try #require(failure("[tracing]\nendpoint = \"http://127.0.0.1:4317\"\nsampling_ratio = 1.5\n"))
    #expect(high.key == "tracing.sampling_ratio")
    #expect(high.line == 3)
    #expect(high.message.contains("between 0.0 and 1.0"))
    #expect(high.description.hasPrefix("test.toml:3: key tracing.sampling_ratio:"))
    let negative = try #require(failure("[tracing]\nsampling_ratio = -0.1\n"))
    #expect(negative.key == "tracing.sampling_ratio")
    #expect(negative.line == 2)
    let nan = try #require(failure("[tracing]\nsampling_ratio = nan\n"))
    #expect(nan.key == "tracing.sampling_ratio")
    let text = try #require(failure("[tracing]\nsampling_ratio = \"0.5\"\n"))
    #expect(text.message == "expected a number, found a string")
    let proto = try #require(failure("[tracing]\nprotocol = \"http/json\"\n"))
    #expect(proto.key == "tracing.protocol")
    #expect(proto.message.contains("\"http/protobuf\""))
    for endpoint in ["127.0.0.1:4317", "grpc://c:4317", "http://", "http://:4317", "http://user:pw@c:4317", "http://c 1:4317"] {
      let bad = try #require(failure("[tracing]\nendpoint = \(tomlString(endpoint))\n"), "\(endpoint)")
      #expect(bad.key == "tracing.endpoint", "\(endpoint)")
      #expect(bad.line == 2)
    }
    #expect(try #require(failure("[tracing]\nservice_name = \"\"\n")).key == "tracing.service_name")
    #expect(try #require(failure("[tracing]\nendpont = \"http://c:1\"\n")).key == "tracing.endpont")
  }

  @Test func tracingExportURL() {
    var tracing = CrispConfig.Tracing()
    tracing.endpoint = "http://127.0.0.1:4317"
    #expect(tracing.exportURL == "http://127.0.0.1:4317")
    tracing.exportProtocol = .httpProtobuf
    #expect(tracing.exportURL == "http://127.0.0.1:4317/v1/traces")
    tracing.endpoint = "http://127.0.0.1:4318/"
    #expect(tracing.exportURL == "http://127.0.0.1:4318/v1/traces")
    tracing.endpoint = "https://collector:443/custom/traces"
    #expect(tracing.exportURL == "https://collector:443/custom/traces")
  }

  /// A TOML basic string holding `text`.
  private func tomlString(_ text: String) -> String {
    "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
  }

  @Test func unknownKeyIsNamedWithItsLine() throws {
    let error = try #require(failure("root = \"/var/lib/crisp\"\n\n[cni]\nbin_dirs = [\"/opt/cni/bin\"]\nconf_dri = \"/etc/cni/net.d\"\n"))
    #expect(error.key == "cni.conf_dri")
    #expect(error.line == 5)
    #expect(error.message == "unknown key")
    #expect(error.description == "test.toml:5: key cni.conf_dri: unknown key")
  }

  @Test func unknownTopLevelKeyAndTable() throws {
    #expect(try #require(failure("rot = \"/x\"\n")).key == "rot")
    let table = try #require(failure("[metricz]\naddress = \"x\"\n"))
    #expect(table.key == "metricz")
    #expect(table.line == 1)
  }

  @Test func wrongTypeIsNamed() throws {
    let error = try #require(failure("oom_score = \"-999\"\n"))
    #expect(error.key == "oom_score")
    #expect(error.message == "expected an integer, found a string")
    #expect(error.line == 1)
    let array = try #require(failure("[cni]\nbin_dirs = \"/opt/cni/bin\"\n"))
    #expect(array.key == "cni.bin_dirs")
    #expect(array.line == 2)
    let element = try #require(failure("pinned_images = [\"a\", 3]\n"))
    #expect(element.key == "pinned_images")
    #expect(element.message.contains("element 1"))
  }

  @Test func negativeSizesAreRefused() throws {
    let log = try #require(failure("max_container_log_line_size = -1\n"))
    #expect(log.key == "max_container_log_line_size")
    #expect(log.message.contains("at least 1"))
    let downloads = try #require(failure("max_concurrent_downloads = 0\n"))
    #expect(downloads.key == "max_concurrent_downloads")
    let conf = try #require(failure("[cni]\nmax_conf_num = -3\n"))
    #expect(conf.key == "cni.max_conf_num")
    #expect(conf.line == 2)
    let port = try #require(failure("[streaming]\nport = 70000\n"))
    #expect(port.key == "streaming.port")
    let creation = try #require(failure("[streaming]\nstream_creation_timeout = \"0s\"\n"))
    #expect(creation.key == "streaming.stream_creation_timeout")
    let metrics = try #require(failure("[metrics]\naddress = \"127.0.0.1\"\n"))
    #expect(metrics.key == "metrics.address")
    #expect(metrics.message.contains("host:port"))
    let score = try #require(failure("oom_score = -1001\n"))
    #expect(score.key == "oom_score")
  }

  @Test func relativePathsAreRefused() throws {
    let root = try #require(failure("# comment\nroot = \"var/lib/crisp\"\n"))
    #expect(root.key == "root")
    #expect(root.line == 2)
    #expect(root.message.contains("absolute path"))
    #expect(try #require(failure("state = \"run\"\n")).key == "state")
    #expect(try #require(failure("[grpc]\naddress = \"crisp.sock\"\n")).key == "grpc.address")
    #expect(try #require(failure("[cni]\nbin_dirs = [\"/ok\", \"bin\"]\n")).key == "cni.bin_dirs")
  }

  @Test func badChoicesAndDurations() throws {
    let driver = try #require(failure("cgroup_driver = \"systemd-ish\"\n"))
    #expect(driver.key == "cgroup_driver")
    #expect(driver.message.contains("\"cgroupfs\""))
    let duration = try #require(failure("image_pull_progress_timeout = \"5 minutes\"\n"))
    #expect(duration.key == "image_pull_progress_timeout")
    #expect(try #require(failure("[log]\nlevel = \"verbose\"\n")).key == "log.level")
    #expect(try #require(failure("snapshotter = \"zfs\"\n")).key == "snapshotter")
  }

  @Test func syntaxErrorCarriesItsLine() throws {
    let error = try #require(failure("root = \"/x\"\nstate = \n"))
    #expect(error.line == 2)
    #expect(error.key.isEmpty)
  }

  @Test func quotedKeysAreLocated() throws {
    let text = """
      [registry]
      config_path = ""
      [registry.mirrors."docker.io"]
      endpoint = ["https://m.example"]
      [registry.mirrors."quay.io"]
      endpoints = ["https://q.example"]
      """
    let error = try #require(failure(text))
    #expect(error.key == "registry.mirrors.\"quay.io\".endpoints")
    #expect(error.line == 6)
  }

  @Test func mirrorsAndConfigPathTogetherIsAnError() throws {
    let text = """
      [registry]
      config_path = "/etc/containerd/certs.d"
      [registry.mirrors."docker.io"]
      endpoint = ["https://m.example"]
      """
    let error = try #require(failure(text))
    #expect(error.key == "registry.mirrors")
    #expect(error.message.contains("config_path"))
  }

  @Test func inlineMirrorsTurnOffHostsDirectories() throws {
    let config = try ConfigLoader.parse("[registry.mirrors.\"docker.io\"]\nendpoint = [\"https://m.example\"]\n")
    #expect(config.registry.configPath == "")
    #expect(config.registry.mirrors["docker.io"]?.endpoints == ["https://m.example"])
  }

  @Test func mirrorEndpointsNeedAScheme() throws {
    let error = try #require(failure("[registry.mirrors.\"docker.io\"]\nendpoint = [\"mirror.local\"]\n"))
    #expect(error.key == "registry.mirrors.\"docker.io\".endpoint")
  }

  @Test func defaultHandlerMustExist() throws {
    let error = try #require(failure("[runtime]\ndefault_handler = \"runsc\"\n"))
    #expect(error.key == "runtime.default_handler")
    let missingBinary = try #require(failure("[runtime.handlers.runc]\nroot = \"/x\"\n"))
    #expect(missingBinary.key == "runtime.handlers.runc.binary")
  }

  /// Pod and container annotations reach the OCI spec only through these allow-lists; a pattern that is
  /// not a glob is refused at load, naming the key, rather than silently matching nothing.
  @Test func annotationPatterns() throws {
    let config = try ConfigLoader.parse("[runtime.handlers.runc]\nbinary = \"/usr/bin/runc\"\npod_annotations = [\"io.example.*\"]\n")
    #expect(config.runtime.handlers["runc"]?.podAnnotations == ["io.example.*"])
    #expect(config.runtime.handlers["runc"]?.containerAnnotations == [])
    #expect(CrispConfig().runtime.handlers.values.allSatisfy { $0.podAnnotations.isEmpty && $0.containerAnnotations.isEmpty })
    let bad = try #require(failure("[runtime.handlers.runc]\nbinary = \"/usr/bin/runc\"\ncontainer_annotations = [\"io.[a-\"]\n"))
    #expect(bad.key == "runtime.handlers.runc.container_annotations")
    #expect(bad.message.contains("io.[a-"))
    let notStrings = try #require(failure("[runtime.handlers.runc]\nbinary = \"/usr/bin/runc\"\npod_annotations = [1]\n"))
    #expect(notStrings.key == "runtime.handlers.runc.pod_annotations")
    #expect(ConfigRenderer.render(CrispConfig()).contains("pod_annotations = []"))
  }

  @Test func globsMatchAsContainerdReadsThem() throws {
    let patterns = try AnnotationPatterns(["io.example.*", "exact", "q?", "[a-c]x", "[^a-c]y", "esc\\*", "dir/*/leaf"])
    for key in ["io.example.", "io.example.anything", "exact", "qa", "bx", "dy", "esc*", "dir/mid/leaf"] {
      #expect(patterns.allows(key), "\(key)")
    }
    for key in [
      "io.example/x", "io.examplex", "exactly", "q/", "q", "qab", "dx", "ay", "escx", "dir/a/b/leaf", "", "org.systemd.property.CPUQuota",
      "run.oci.keep_original_groups",
    ] {
      #expect(!patterns.allows(key), "\(key)")
    }
    let star = try AnnotationPatterns(["*"])
    #expect(star.allows("run.oci.hooks"))
    #expect(!star.allows("example.com/key"))
    #expect(AnnotationPatterns.none.filter(["a": "1"]).isEmpty)
    #expect(try AnnotationPatterns(["a*"]).filter(["a1": "x", "b": "y"]) == ["a1": "x"])
    for bad in ["[", "[]", "[a-", "x\\", "[z-a]", "[^]"] {
      #expect(throws: AnnotationPatterns.Invalid.self, "\(bad)") { try AnnotationPatterns([bad]) }
    }
    // A long key against many stars stays cheap (no backtracking).
    let long = String(repeating: "a", count: 4096)
    let stars = try AnnotationPatterns([String(repeating: "*a", count: 64) + "b"])
    #expect(!stars.allows(long))
  }

  @Test func multilineValuesDoNotConfuseLines() throws {
    let text = """
      pinned_images = [
        "a",
        "b = c",
      ]
      sandbox_image = \"\"\"
      x = y
      \"\"\"
      bogus = 1
      """
    let error = try #require(failure(text))
    #expect(error.key == "bogus")
    #expect(error.line == 8)
  }

  @Test func overridesFollowContainerdFlags() {
    let config = CrispConfig().overriding(root: "/r", state: "/s", address: nil, logLevel: .debug)
    #expect(config.root == "/r")
    #expect(config.state == "/s")
    #expect(config.grpc.address == "/s/crisp.sock")
    #expect(config.log.level == .debug)
    let explicit = CrispConfig().overriding(state: "/s", address: "/a.sock")
    #expect(explicit.grpc.address == "/a.sock")
  }

  @Test func credentialsAreRedacted() {
    var config = CrispConfig()
    config.registry.configs["h"] = .init(auth: .init(username: "u", password: "secret", auth: "dTpzZWNyZXQ=", identityToken: "tok"))
    let auth = config.redacted.registry.configs["h"]?.auth
    #expect(auth?.username == "u")
    #expect(auth?.password == "<redacted>")
    #expect(auth?.auth == "<redacted>")
    #expect(auth?.identityToken == "<redacted>")
  }
}

@Suite struct TimeSpanTests {
  @Test func parsesGoDurations() {
    #expect(TimeSpan(parsing: "4h0m0s") == .seconds(4 * 3600))
    #expect(TimeSpan(parsing: "1m") == .seconds(60))
    #expect(TimeSpan(parsing: "1.5s") == .milliseconds(1500))
    #expect(TimeSpan(parsing: "300ms") == .milliseconds(300))
    #expect(TimeSpan(parsing: "0") == .seconds(0))
    #expect(TimeSpan(parsing: "") == nil)
    #expect(TimeSpan(parsing: "5") == nil)
    #expect(TimeSpan(parsing: "-5s") == nil)
    #expect(TimeSpan(parsing: "5 m") == nil)
  }

  @Test func formatsLikeGo() {
    #expect(TimeSpan.seconds(4 * 3600).description == "4h0m0s")
    #expect(TimeSpan.seconds(60).description == "1m0s")
    #expect(TimeSpan.milliseconds(1500).description == "1.5s")
    #expect(TimeSpan.milliseconds(300).description == "300ms")
    #expect(TimeSpan.seconds(0).description == "0s")
    #expect(TimeSpan.seconds(5400).description == "1h30m0s")
  }
}

/// docs/configuration.md carries `crisp config default` verbatim: the reference cannot drift from the model.
@Suite struct ConfigurationReferenceTests {
  @Test func theReferencePageMatchesTheModel() throws {
    let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("docs/configuration.md").path
    let text = try String(contentsOfFile: page, encoding: .utf8)
    let start = try #require(text.range(of: "```toml\n"))
    let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
    let block = String(text[start.upperBound..<end.lowerBound])
    #expect(block == ConfigRenderer.render(CrispConfig()), "docs/configuration.md is out of date: replace its toml block with `crisp config default`")
  }
}
