import Config
import Foundation
import Testing

/// `config.d/*.toml` merged over the main file: order, key-by-key merging, what is read, bounds, and errors
/// that name the drop-in's own file and line.
@Suite struct ConfigDropInTests {
  /// A main file and its config.d in a fresh temporary directory, removed by `cleanUp`.
  struct Layout {
    let directory: String
    var main: String { directory + "/config.toml" }
    var dropIns: String { directory + "/config.d" }

    init() throws {
      directory = NSTemporaryDirectory() + "crisp-dropins-" + UUID().uuidString
      try FileManager.default.createDirectory(atPath: directory + "/config.d", withIntermediateDirectories: true)
    }

    func writeMain(_ text: String) throws { try text.write(toFile: main, atomically: true, encoding: .utf8) }
    func writeDropIn(_ name: String, _ text: String) throws {
      try text.write(toFile: dropIns + "/" + name, atomically: true, encoding: .utf8)
    }
    func load() throws(ConfigError) -> LoadedConfig { try ConfigLoader.loadWithSources(path: main, required: true) }
    func failure() -> ConfigError? {
      do {
        _ = try load()
        return nil
      } catch {
        return error
      }
    }
    func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }
  }

  @Test func dropInsMergeInLexicalOrderOverTheMainFile() throws {
    let layout = try Layout()
    defer { layout.cleanUp() }
    try layout.writeMain("[log]\nlevel = \"info\"\n")
    try layout.writeDropIn("20-late.toml", "[log]\nlevel = \"warning\"\n")
    try layout.writeDropIn("10-early.toml", "[log]\nlevel = \"debug\"\nformat = \"json\"\n")
    let loaded = try layout.load()
    #expect(loaded.config.log.level == .warning)
    #expect(loaded.config.log.format == .json)
    #expect(loaded.files == [layout.main, layout.dropIns + "/10-early.toml", layout.dropIns + "/20-late.toml"])
  }

  @Test func tablesMergeKeyByKeyAndNested() throws {
    let merged = try ConfigLoader.parse(documents: [
      (
        "main.toml",
        """
        [cni]
        conf_dir = "/etc/cni/other"
        bin_dirs = ["/opt/cni/bin"]
        [runtime.handlers.runc]
        binary = "/usr/local/bin/runc"
        pod_annotations = ["io.example.*"]
        [registry]
        config_path = ""
        [registry.mirrors."docker.io"]
        endpoint = ["https://mirror.one"]
        """
      ),
      (
        "10-gpu.toml",
        """
        [cni]
        plugin_timeout = "5s"
        [runtime.handlers.runc]
        container_annotations = ["io.gpu.*"]
        [runtime.handlers.nvidia]
        binary = "/usr/bin/nvidia-container-runtime"
        [registry.mirrors."quay.io"]
        endpoint = ["https://mirror.two"]
        """
      ),
    ]).config
    #expect(merged.cni.confDir == "/etc/cni/other")
    #expect(merged.cni.binDirs == ["/opt/cni/bin"])
    #expect(merged.cni.pluginTimeout == .seconds(5))
    #expect(merged.runtime.handlers["runc"]?.binary == "/usr/local/bin/runc")
    #expect(merged.runtime.handlers["runc"]?.podAnnotations == ["io.example.*"])
    #expect(merged.runtime.handlers["runc"]?.containerAnnotations == ["io.gpu.*"])
    #expect(merged.runtime.handlers["nvidia"]?.binary == "/usr/bin/nvidia-container-runtime")
    #expect(merged.registry.mirrors["docker.io"]?.endpoints == ["https://mirror.one"])
    #expect(merged.registry.mirrors["quay.io"]?.endpoints == ["https://mirror.two"])
  }

  @Test func aHandlerNamedOnlyInADropInIsAddedToTheBuiltInOnes() throws {
    let added = try ConfigLoader.parse(documents: [
      ("main.toml", "root = \"/var/lib/crisp\"\n"), ("10-gpu.toml", "[runtime.handlers.nvidia]\nbinary = \"/usr/bin/nvidia-container-runtime\"\n"),
    ]).config
    #expect(Set(added.runtime.handlers.keys) == ["runc", "crun", "nvidia"])
    // Handlers named in the main file replace the built-in pair, as they always did; drop-ins add to them.
    let replaced = try ConfigLoader.parse(documents: [
      ("main.toml", "[runtime.handlers.runc]\nbinary = \"/usr/local/bin/runc\"\n"),
      ("10-gpu.toml", "[runtime.handlers.nvidia]\nbinary = \"/usr/bin/nvidia-container-runtime\"\n"),
    ]).config
    #expect(Set(replaced.runtime.handlers.keys) == ["runc", "nvidia"])
    #expect(try ConfigLoader.parse("[runtime.handlers.runc]\nbinary = \"/usr/bin/runc\"\n").runtime.handlers.keys.sorted() == ["runc"])
  }

  @Test func aLaterArrayOrScalarReplacesTheEarlierWhole() throws {
    let merged = try ConfigLoader.parse(documents: [
      ("main.toml", "pinned_images = [\"a\", \"b\", \"c\"]\n[cni]\nbin_dirs = [\"/one\", \"/two\"]\nmax_conf_num = 3\n"),
      ("10.toml", "pinned_images = [\"z\"]\n[cni]\nbin_dirs = [\"/three\"]\n"),
      ("20.toml", "[cni]\nmax_conf_num = 1\n"),
    ]).config
    #expect(merged.pinnedImages == ["z"])
    #expect(merged.cni.binDirs == ["/three"])
    #expect(merged.cni.maxConfNum == 1)
  }

  @Test func inlineTablesMergeLikeTables() throws {
    let merged = try ConfigLoader.parse(documents: [
      ("main.toml", "log = { level = \"error\", format = \"json\" }\n"),
      ("10.toml", "log.level = \"debug\"\n"),
    ]).config
    #expect(merged.log.level == .debug)
    #expect(merged.log.format == .json)
  }

  @Test func onlyTomlRegularFilesAreRead() throws {
    let layout = try Layout()
    defer { layout.cleanUp() }
    try layout.writeMain("")
    // Each of these would fail to load if it were read.
    for name in ["10-x.toml~", ".20-hidden.toml", "30-x.conf", "README", ".toml", "40-x.toml.bak", "50-x.toml.swp"] {
      try layout.writeDropIn(name, "not toml at all = = =\n")
    }
    try FileManager.default.createDirectory(atPath: layout.dropIns + "/60-dir.toml", withIntermediateDirectories: true)
    try layout.writeDropIn("70-ok.toml", "oom_score = -10\n")
    // A link to a regular file counts (configuration managers link files into place).
    try "oom_score = -20\n".write(toFile: layout.directory + "/target.toml", atomically: true, encoding: .utf8)
    try FileManager.default.createSymbolicLink(atPath: layout.dropIns + "/80-link.toml", withDestinationPath: layout.directory + "/target.toml")
    let loaded = try layout.load()
    #expect(loaded.files == [layout.main, layout.dropIns + "/70-ok.toml", layout.dropIns + "/80-link.toml"])
    #expect(loaded.config.oomScore == -20)
  }

  @Test func tooManyDropInsAreRefusedNotTruncated() throws {
    let layout = try Layout()
    defer { layout.cleanUp() }
    try layout.writeMain("")
    for index in 0...ConfigDropIns.maximumFiles {
      try layout.writeDropIn(String(format: "%04d.toml", index), "")
    }
    let error = try #require(layout.failure())
    #expect(error.source == layout.dropIns)
    #expect(error.message.contains("more than 256 *.toml drop-ins"))
    // Exactly the limit loads.
    try FileManager.default.removeItem(atPath: layout.dropIns + "/0000.toml")
    #expect(try layout.load().files.count == ConfigDropIns.maximumFiles + 1)
  }

  @Test func anOversizedDropInIsRefusedByName() throws {
    let layout = try Layout()
    defer { layout.cleanUp() }
    try layout.writeMain("")
    let big = "# " + String(repeating: "x", count: ConfigLoader.maximumFileSize) + "\n"
    try layout.writeDropIn("10-big.toml", big)
    let error = try #require(layout.failure())
    #expect(error.source == layout.dropIns + "/10-big.toml")
    #expect(error.message.contains("larger than 4 MiB"))
  }

  @Test func anUnknownKeyInADropInNamesThatFileAndLine() throws {
    let layout = try Layout()
    defer { layout.cleanUp() }
    try layout.writeMain("root = \"/var/lib/crisp\"\n[log]\nlevel = \"info\"\n")
    try layout.writeDropIn("10-ok.toml", "[cni]\nplugin_timeout = \"5s\"\n")
    try layout.writeDropIn("20-typo.toml", "# a comment\n\n[log]\nlevle = \"debug\"\n")
    let error = try #require(layout.failure())
    #expect(error.source == layout.dropIns + "/20-typo.toml")
    #expect(error.line == 4)
    #expect(error.key == "log.levle")
    #expect(error.description == "\(layout.dropIns)/20-typo.toml:4: key log.levle: unknown key")
  }

  @Test func aBadValueOrSyntaxInADropInNamesThatFileAndLine() throws {
    let value = try #require(
      failure([("main.toml", "[log]\nlevel = \"info\"\n"), ("10-bad.toml", "\n[log]\nlevel = \"loud\"\n")]))
    #expect(value.source == "10-bad.toml")
    #expect(value.line == 3)
    #expect(value.key == "log.level")

    let syntax = try #require(failure([("main.toml", ""), ("10-broken.toml", "[cni\nbin_dirs = []\n")]))
    #expect(syntax.source == "10-broken.toml")
    #expect(syntax.line == 1)

    // A scalar where the main file has a table replaces the table, and the type error names the drop-in.
    let type = try #require(failure([("main.toml", "[log]\nlevel = \"info\"\n"), ("10-flat.toml", "\nlog = \"debug\"\n")]))
    #expect(type.source == "10-flat.toml")
    #expect(type.line == 2)
    #expect(type.message.contains("expected a table"))

    // A problem in the main file still names the main file while drop-ins are present.
    let main = try #require(failure([("main.toml", "\n\noom_score = 5000\n"), ("10.toml", "[log]\nlevel = \"debug\"\n")]))
    #expect(main.source == "main.toml")
    #expect(main.line == 3)
  }

  @Test func aMissingMainFileWithDropInsMeansDefaultsAndDropIns() throws {
    let layout = try Layout()
    defer { layout.cleanUp() }
    try layout.writeDropIn("10-level.toml", "[log]\nlevel = \"debug\"\n")
    let loaded = try layout.load()
    var expected = CrispConfig()
    expected.log.level = .debug
    #expect(loaded.config == expected)
    #expect(loaded.files == [layout.dropIns + "/10-level.toml"])

    // No main file and no drop-ins, asked for explicitly: an error naming the main file.
    try FileManager.default.removeItem(atPath: layout.dropIns + "/10-level.toml")
    let error = try #require(layout.failure())
    #expect(error.description == "\(layout.main): no such file")
    // Not asked for explicitly (the default path): defaults.
    #expect(try ConfigLoader.load(path: layout.main, required: false) == CrispConfig())
  }

  @Test func dumpNamesTheFileOfEachValue() throws {
    let loaded = try ConfigLoader.parse(documents: [
      ("/etc/crisp/config.toml", "root = \"/data/crisp\"\n[log]\nlevel = \"info\"\n"),
      (
        "/etc/crisp/config.d/10-gpu.toml",
        "[log]\nlevel = \"debug\"\n[registry.configs.\"harbor.local\".auth]\nusername = \"robot\"\npassword = \"secret\"\n"
      ),
    ])
    let dump = ConfigRenderer.renderEffective(loaded)
    let lines = dump.split(separator: "\n").map(String.init)
    #expect(lines.contains("root = \"/data/crisp\"  # from /etc/crisp/config.toml"))
    #expect(lines.contains("level = \"debug\"  # from /etc/crisp/config.d/10-gpu.toml"))
    #expect(lines.contains("username = \"robot\"  # from /etc/crisp/config.d/10-gpu.toml"))
    // Defaults carry no source; credentials are redacted.
    #expect(lines.contains("state = \"/run/crisp\""))
    #expect(lines.contains("format = \"text\""))
    #expect(!dump.contains("secret"))
    #expect(lines.contains("password = \"<redacted>\"  # from /etc/crisp/config.d/10-gpu.toml"))
    #expect(lines.contains("#   /etc/crisp/config.d/10-gpu.toml"))
  }

  @Test func theDefaultRenderingDocumentsDropInsAndReload() {
    let text = ConfigRenderer.render(CrispConfig())
    #expect(text.contains("config.d"))
    #expect(text.contains("SIGHUP"))
  }

  private func failure(_ documents: [(source: String, text: String)]) -> ConfigError? {
    do {
      _ = try ConfigLoader.parse(documents: documents)
      return nil
    } catch {
      return error
    }
  }
}
