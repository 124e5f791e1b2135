import CrispCore
import Foundation
import Runtime
import RuntimeFakes
import Store

/// CRI configs and checks shared by the lifecycle unit tests.
enum LifecycleFixtures {
  static func pod(_ name: String = "web") -> PodSandboxSpec {
    var config = PodSandboxSpec()
    config.metadata.name = name
    config.metadata.namespace = "default"
    config.metadata.uid = "uid-" + name
    config.hostname = name
    return config
  }

  static func container(_ name: String = "app") -> ContainerSpec {
    var config = ContainerSpec()
    config.metadata.name = name
    config.image.image = FakeNode.containerImage
    config.command = ["sleep", "1000"]
    return config
  }

  /// The error `body` throws, as a CrispError (nil when it does not throw).
  static func error(_ body: () async throws(CrispError) -> Void) async -> CrispError? {
    do {
      try await body()
      return nil
    } catch {
      return error
    }
  }

  /// Entries of a directory (empty when it does not exist).
  static func entries(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
  }

  /// What is left of everything a sandbox run made, besides records: fake host objects and directories.
  static func leftovers(_ node: FakeNode) -> [String] {
    node.host.leftovers + entries(node.directory + "/state/containers").map { "bundle \($0)" }
      + entries(node.directory + "/root/sandboxes").map { "sandbox files \($0)" }
      + entries(node.directory + "/state/sandboxes").map { "shm \($0)" }
  }
}
