import CDI
import CrispCore
import Logging
import Testing

@Suite struct CDIRegistryTests {
  static func spec(kind: String = "vendor.com/device", devices: [(String, String)], version: String = "0.6.0") -> String {
    var text = "cdiVersion: \"\(version)\"\nkind: \(kind)\ndevices:\n"
    for (name, env) in devices { text += "  - name: \(name)\n    containerEdits:\n      env: [\(env)]\n" }
    return text
  }

  private func name(_ text: String) throws(CrispError) -> CDIName {
    guard case .success(let name) = CDIName.parse(text) else { throw CrispError.invalidArgument(text) }
    return name
  }

  @Test func laterDirectoriesOverrideEarlierOnes() throws {
    let root = try SpecDirectory()
    let etc = try root.directory("etc")
    let run = try root.directory("run")
    try root.write("a.yaml", Self.spec(devices: [("dev0", "FROM=etc"), ("dev1", "FROM=etc")]), in: etc)
    try root.write(
      "b.json", #"{"cdiVersion":"0.3.0","kind":"vendor.com/device","devices":[{"name":"dev0","containerEdits":{"env":["FROM=run"]}}]}"#, in: run)
    let contents = CDIRegistryContents.load(directories: [etc, run])
    #expect(contents.rejected.isEmpty)
    #expect(contents.devices[try name("vendor.com/device=dev0")]?.edits.env == ["FROM=run"])
    #expect(contents.devices[try name("vendor.com/device=dev0")]?.specPath == run + "/b.json")
    #expect(contents.devices[try name("vendor.com/device=dev1")]?.edits.env == ["FROM=etc"])
    let reversed = CDIRegistryContents.load(directories: [run, etc])
    #expect(reversed.devices[try name("vendor.com/device=dev0")]?.edits.env == ["FROM=etc"])
  }

  @Test func aDeviceTwoFilesOfOneDirectoryDefineIsAConflict() throws {
    let root = try SpecDirectory()
    let etc = try root.directory("etc")
    let run = try root.directory("run")
    try root.write("base.yaml", Self.spec(devices: [("shared", "FROM=etc")]), in: etc)
    try root.write("a.yaml", Self.spec(devices: [("shared", "FROM=a"), ("onlya", "A=1")]), in: run)
    try root.write("b.yaml", Self.spec(devices: [("shared", "FROM=b")]), in: run)
    let contents = CDIRegistryContents.load(directories: [etc, run])
    let shared = try name("vendor.com/device=shared")
    // Neither file's definition, and not the earlier directory's either: which one was meant is unknowable.
    #expect(contents.devices[shared] == nil)
    #expect(contents.conflicts[shared]?.contains(run + "/a.yaml") == true)
    #expect(contents.conflicts[shared]?.contains(run + "/b.yaml") == true)
    #expect(contents.devices[try name("vendor.com/device=onlya")] != nil)
    #expect(Set(contents.rejected.map(\.path)) == [run + "/a.yaml", run + "/b.yaml"])
    do {
      _ = try CDIResolver.resolve([shared], in: contents, directories: [etc, run])
      Issue.record("a conflicting device resolved")
    } catch {
      #expect(error.code == .failedPrecondition)
      #expect(error.message.contains("vendor.com/device=shared"))
      #expect(error.message.contains("a.yaml"))
    }
  }

  @Test func invalidFilesAreRejectedWithWhyAndOthersStillLoad() throws {
    let root = try SpecDirectory()
    try root.write("good.yaml", Self.spec(devices: [("dev0", "A=1")]))
    try root.write("bad.yaml", Self.spec(kind: "other.com/thing", devices: [("dev0", "NOEQUALS")]))
    try root.write("broken.json", "{not json")
    try root.write("ignored.txt", "anything")
    try root.write("big.json", String(repeating: " ", count: CDISpecParser.maxFileSize + 1))
    let contents = CDIRegistryContents.load(directories: [root.path, root.path + "/missing"])
    #expect(contents.devices.keys.map(\.description) == ["vendor.com/device=dev0"])
    #expect(contents.rejected.map { FilePath.lastComponent(of: $0.path) } == ["bad.yaml", "big.json", "broken.json"])
    let bad = try #require(contents.rejected.first)
    #expect(bad.kind == "other.com/thing")
    #expect(bad.reason.contains("env[0]"))
    do {
      _ = try CDIResolver.resolve([try name("other.com/thing=dev0")], in: contents, directories: [root.path])
      Issue.record("a device of a rejected file resolved")
    } catch {
      #expect(error.code == .failedPrecondition)
      #expect(error.message.contains("bad.yaml"))
    }
  }

  @Test func unknownDevicesAreInvalidArgumentsNamingWhatExists() throws {
    let root = try SpecDirectory()
    try root.write("good.yaml", Self.spec(devices: [("dev0", "A=1"), ("dev1", "B=1")]))
    let contents = CDIRegistryContents.load(directories: [root.path])
    do {
      _ = try CDIResolver.resolve([try name("vendor.com/device=dev9")], in: contents, directories: [root.path])
      Issue.record("an unknown device resolved")
    } catch {
      #expect(error.code == .invalidArgument)
      #expect(error.message.contains("vendor.com/device=dev9"))
      #expect(error.message.contains("dev0, dev1"))
    }
    do {
      _ = try CDIResolver.resolve([try name("nobody.com/x=y")], in: contents, directories: [root.path])
      Issue.record("an unknown kind resolved")
    } catch {
      #expect(error.code == .invalidArgument)
      #expect(error.message.contains("no CDI spec defines kind nobody.com/x"))
    }
  }

  @Test func requestedNamesComeFromTheFieldAndTheAnnotations() throws {
    let names = try CDIResolver.requestedNames(
      cdiDevices: ["vendor.com/device=dev0"],
      annotations: ["cdi.k8s.io/b": "vendor.com/device=dev1,vendor.com/device=dev0", "cdi.k8s.io/a": "vendor.com/device=all", "other": "x=y"])
    #expect(names.map(\.description) == ["vendor.com/device=dev0", "vendor.com/device=all", "vendor.com/device=dev1"])
    #expect(try CDIResolver.requestedNames(cdiDevices: [], annotations: ["io.example/a": "b"]).isEmpty)
    do {
      _ = try CDIResolver.requestedNames(cdiDevices: ["vendor.com/device"], annotations: [:])
      Issue.record("an unqualified name passed")
    } catch {
      #expect(error.code == .invalidArgument)
      #expect(error.message.contains("config.CDI_devices[0].name"))
    }
    do {
      _ = try CDIResolver.requestedNames(cdiDevices: [], annotations: ["cdi.k8s.io/x": "vendor.com/device=a,"])
      Issue.record("an empty name in an annotation passed")
    } catch {
      #expect(error.code == .invalidArgument)
      #expect(error.message.contains("cdi.k8s.io/x"))
    }
    let tooMany = (0...CDIResolver.maxDevices).map { "vendor.com/device=d\($0)" }
    #expect(throws: CrispError.self) { try CDIResolver.requestedNames(cdiDevices: tooMany, annotations: [:]) }
  }

  /// The registry re-reads a directory whose entries changed, without a watch and with one, and moves to
  /// new directories with setDirectories.
  @Test func registryFollowsItsDirectories() async throws {
    let root = try SpecDirectory()
    let first = try root.directory("first")
    let second = try root.directory("second")
    let registry = CDIRegistry(directories: [first], logger: Logger(label: "cdi.test") { _ in SwiftLogNoOpLogHandler() })
    #expect(try registry.resolve(cdiDevices: [], annotations: [:]) == nil)
    #expect(throws: CrispError.self) { try registry.resolve(cdiDevices: ["vendor.com/device=dev0"], annotations: [:]) }
    try root.write("a.yaml", Self.spec(devices: [("dev0", "A=1")]), in: first)
    #expect(try registry.resolve(cdiDevices: ["vendor.com/device=dev0"], annotations: [:])?.env == ["A=1"])
    registry.start()
    try root.write("b.yaml", Self.spec(devices: [("dev1", "B=1")]), in: first)
    #expect(try registry.resolve(cdiDevices: ["vendor.com/device=dev1"], annotations: [:])?.env == ["B=1"])
    // An edit in place changes no directory entry: the watch sees it. (Past the two seconds in which a
    // directory stamp counts as recent, so only the watch can tell.)
    try await Task.sleep(for: .milliseconds(2100))
    try root.write("b.yaml", Self.spec(devices: [("dev1", "B=2")]), in: first)
    var seen: [String]?
    for _ in 0..<50 {
      seen = try registry.resolve(cdiDevices: ["vendor.com/device=dev1"], annotations: [:])?.env
      if seen == ["B=2"] { break }
      try await Task.sleep(for: .milliseconds(100))
    }
    #expect(seen == ["B=2"])
    registry.setDirectories([second])
    #expect(registry.directories == [second])
    #expect(throws: CrispError.self) { try registry.resolve(cdiDevices: ["vendor.com/device=dev1"], annotations: [:]) }
    try root.write("c.yaml", Self.spec(devices: [("dev2", "C=1")]), in: second)
    #expect(try registry.resolve(cdiDevices: ["vendor.com/device=dev2"], annotations: [:])?.env == ["C=1"])
  }
}
