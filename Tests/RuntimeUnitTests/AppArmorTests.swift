import CrispCore
import Foundation
import OCI
import Runtime
import RuntimeFakes
import Testing

/// AppArmor as far as this machine allows: its kernel has AppArmor off, so the node's state is read from
/// files the tests write (the enable switch and the loaded-profile list), the generated profile is compiled
/// by Debian's real `apparmor_parser` without loading, and the specs crisp writes are read back.
@Suite struct AppArmorTests {
  /// A node whose AppArmor is on, with `loaded` profiles in the kernel's list, the given parser, and
  /// (when `defaultWritten`) crisp's default profile source already where crisp keeps it, as after a load.
  static func node(loaded: [String], parser: String = "/sbin/apparmor_parser", defaultWritten: Bool = true) throws -> FakeNode {
    let files = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-aa-\(UUID().uuidString.prefix(8))").path
    try FilePath.makeDirectories(files, mode: 0o700)
    try AtomicFile.write("Y\n", to: files + "/enabled")
    try AtomicFile.write(loaded.map { "\($0) (enforce)\n" }.joined(), to: files + "/profiles")
    let node = try FakeNode(appArmor: AppArmorHost(enabledFile: files + "/enabled", profilesFile: files + "/profiles", parser: parser))
    if defaultWritten {
      try FilePath.makeDirectories(node.manager.paths.appArmor, mode: 0o700)
      try AtomicFile.write(AppArmorDefaultProfile.source(), to: node.manager.appArmor.defaultProfileFile)
    }
    return node
  }

  /// The AppArmor profile in a bundle's spec.
  static func profile(_ node: FakeNode, _ id: String) throws -> String? {
    let data = try Data(contentsOf: URL(fileURLWithPath: node.bundle(id) + "/config.json"))
    return try JSONDecoder().decode(OCISpec.self, from: data).process?.apparmorProfile
  }

  static func profileRequest(_ kind: SecurityProfile.Kind, _ name: String = "") -> SecurityProfile {
    SecurityProfile(kind: kind, localhostRef: name)
  }

  @Test func theDefaultProfileCompiles() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crisp-aa-src-\(UUID().uuidString.prefix(8))").path
    try FilePath.makeDirectories(directory, mode: 0o700)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let file = directory + "/crisp-default"
    try AtomicFile.write(AppArmorDefaultProfile.source(), to: file)
    try await AppArmorHost.system.check(file)
    // The check is real: a broken profile is refused with the parser's own message.
    try AtomicFile.write("profile broken {\n", to: file)
    await #expect(throws: CrispError.self) { try await AppArmorHost.system.check(file) }
  }

  @Test func loadedProfileNamesComeFromTheKernelList() {
    let names = AppArmorHost.profileNames("crisp-default (enforce)\n/usr/bin/man (complain)\nodd name (x) (enforce)\n\nnoparens\n")
    #expect(names == ["crisp-default", "/usr/bin/man", "odd name (x)"])
  }

  static let field = "config.linux.security_context"

  /// (structured request, legacy name, privileged, AppArmor on) → the profile chosen.
  static let choices: [(SecurityProfile?, String, Bool, Bool, AppArmorChoice)] = [
    (nil, "", false, true, .runtimeDefault),
    (nil, "", false, false, .none),
    (nil, "", true, true, .none),
    (profileRequest(.runtimeDefault), "", false, true, .runtimeDefault),
    (profileRequest(.runtimeDefault), "", true, true, .none),
    (profileRequest(.unconfined), "", false, true, .none),
    (profileRequest(.localhost, "site-profile"), "", false, true, .localhost("site-profile")),
    (profileRequest(.localhost, "localhost/site-profile"), "", true, true, .localhost("site-profile")),
    (nil, "runtime/default", false, true, .runtimeDefault),
    (nil, "unconfined", false, true, .none),
    (nil, "localhost/site-profile", false, true, .localhost("site-profile")),
    // The structured field wins over the older one.
    (profileRequest(.unconfined), "localhost/site-profile", false, true, .none),
  ]

  @Test(arguments: 0..<12) func aRequestChoosesItsProfile(_ index: Int) throws {
    let (profile, legacy, privileged, enabled, expected) = Self.choices[index]
    let chosen = try AppArmorPolicy.choose(
      profile, legacyName: legacy, privileged: privileged, field: Self.field, enabled: enabled, loaded: { ["site-profile"] })
    #expect(chosen == expected)
  }

  /// (structured request, legacy name, AppArmor on) → the refusal's code and a fragment of its message.
  static let refusals: [(SecurityProfile?, String, Bool, CrispError.Code, String)] = [
    (profileRequest(.localhost, "absent"), "", true, .failedPrecondition, "apparmor: profile \"absent\" is not loaded on this node"),
    (profileRequest(.localhost, "site-profile"), "", false, .invalidArgument, "AppArmor is not enabled on this node"),
    (profileRequest(.localhost, ""), "", true, .invalidArgument, "apparmor.localhost_ref: the profile name is empty"),
    (profileRequest(.localhost, "a\nb"), "", true, .invalidArgument, "control character"),
    (profileRequest(.localhost, String(repeating: "p", count: 1025)), "", true, .invalidArgument, "longer than 1024 bytes"),
    (profileRequest(.unrecognized(7)), "", true, .invalidArgument, "apparmor.profile_type: unknown type 7"),
    (nil, "docker-default", true, .invalidArgument, "apparmor_profile: \"docker-default\" is not runtime/default"),
    (nil, "localhost/", true, .invalidArgument, "apparmor_profile: the profile name is empty"),
  ]

  @Test(arguments: 0..<8) func aBadRequestIsRefusedNamingTheField(_ index: Int) {
    let (profile, legacy, enabled, code, fragment) = Self.refusals[index]
    do {
      let chosen = try AppArmorPolicy.choose(
        profile, legacyName: legacy, privileged: false, field: Self.field, enabled: enabled, loaded: { ["site-profile"] })
      Issue.record("accepted as \(chosen)")
    } catch {
      #expect(error.code == code)
      #expect(error.message.hasPrefix(Self.field), "\(error.message)")
      #expect(error.message.contains(fragment), "\(error.message)")
    }
  }

  @Test func podsAndContainersRunUnderTheProfileTheyAskFor() async throws {
    let node = try Self.node(loaded: ["crisp-default", "site-profile"])
    let sandbox = try await node.manager.runPodSandbox(LifecycleFixtures.pod(), handler: "")
    #expect(try Self.profile(node, sandbox) == "crisp-default")
    let plain = try await node.manager.createContainer(sandboxID: sandbox, config: LifecycleFixtures.container("plain"))
    #expect(try Self.profile(node, plain) == "crisp-default")
    var named = LifecycleFixtures.container("named")
    named.linux.securityContext.apparmor = Self.profileRequest(.localhost, "site-profile")
    let namedID = try await node.manager.createContainer(sandboxID: sandbox, config: named)
    #expect(try Self.profile(node, namedID) == "site-profile")
    var unconfined = LifecycleFixtures.container("unconfined")
    unconfined.linux.securityContext.apparmorProfile = "unconfined"
    let unconfinedID = try await node.manager.createContainer(sandboxID: sandbox, config: unconfined)
    #expect(try Self.profile(node, unconfinedID) == nil)
    // Nothing was loaded: the kernel had the profile and its source was current.
    #expect(try String(contentsOfFile: node.manager.appArmor.defaultProfileFile, encoding: .utf8) == AppArmorDefaultProfile.source())
  }

  @Test func anUnloadedLocalhostProfileRefusesTheContainerAndLeavesNothing() async throws {
    let node = try Self.node(loaded: ["crisp-default"])
    let sandbox = try await node.manager.runPodSandbox(LifecycleFixtures.pod(), handler: "")
    let before = LifecycleFixtures.leftovers(node)
    node.host.log.clear()
    var config = LifecycleFixtures.container()
    config.linux.securityContext.apparmor = Self.profileRequest(.localhost, "absent")
    let error = await LifecycleFixtures.error { () async throws(CrispError) in
      _ = try await node.manager.createContainer(sandboxID: sandbox, config: config)
    }
    #expect(error?.code == .failedPrecondition)
    #expect(error?.message.contains("config.linux.security_context.apparmor: profile \"absent\" is not loaded") == true)
    #expect(node.host.log.names.isEmpty)
    #expect(try node.store.allContainers().isEmpty)
    #expect(LifecycleFixtures.leftovers(node) == before)
  }

  @Test func aDefaultProfileThatCannotBeLoadedRefusesThePodAndLeavesNothing() async throws {
    // Missing from the kernel, and the parser is not installed.
    let node = try Self.node(loaded: [], parser: "/nonexistent/apparmor_parser", defaultWritten: false)
    let error = await LifecycleFixtures.error { () async throws(CrispError) in
      _ = try await node.manager.runPodSandbox(LifecycleFixtures.pod(), handler: "")
    }
    #expect(error?.code == .failedPrecondition)
    #expect(error?.message.contains("/nonexistent/apparmor_parser not found (install Debian's apparmor package)") == true)
    // The plan's readiness check ran; nothing was made.
    #expect(node.host.log.names == ["network.requireReady"])
    #expect(try node.store.allSandboxes().isEmpty)
    #expect(LifecycleFixtures.leftovers(node).isEmpty)
    // The source was written for the parser: the next attempt compares against it.
    #expect(try String(contentsOfFile: node.manager.appArmor.defaultProfileFile, encoding: .utf8) == AppArmorDefaultProfile.source())
  }

  @Test func withAppArmorOffNoProfileIsWritten() async throws {
    let node = try FakeNode()
    let sandbox = try await node.manager.runPodSandbox(LifecycleFixtures.pod(), handler: "")
    var config = LifecycleFixtures.container()
    config.linux.securityContext.apparmor = Self.profileRequest(.runtimeDefault)
    let id = try await node.manager.createContainer(sandboxID: sandbox, config: config)
    #expect(try Self.profile(node, sandbox) == nil)
    #expect(try Self.profile(node, id) == nil)
    #expect(!FilePath.exists(node.manager.paths.appArmor))
  }
}
