public import Config
public import CrispCore
import Foundation

/// Where crisp keeps each object's files under `root` and `state`: the one place these paths are built
/// (the daemon, the status answers, recovery and the tests all ask here).
public struct RuntimePaths: Sendable {
  public let root: String
  public let state: String
  /// `cni.netns_dir`: empty pins network namespaces under `state`.
  public let netnsDirectory: String

  public init(_ config: CrispConfig) {
    root = config.root
    state = config.state
    netnsDirectory = config.cni.netnsDir
  }

  /// Every container's (and pause container's) bundle and shim state directory.
  public var containers: String { FilePath.join(state, "containers") }
  /// A container's bundle: config.json, rootfs, the shim's socket, pid and exit files.
  public func bundle(_ id: String) -> String { FilePath.join(containers, id) }
  /// The OCI spec crisp wrote for a container.
  public func spec(_ id: String) -> String { bundle(id) + "/config.json" }
  /// Where a sandbox's network namespace is pinned when `cni.netns_dir` is not set.
  public func netns(_ id: String) -> String { FilePath.join(state, "netns/\(id)") }
  /// Where a new sandbox's namespace is pinned: by id under `state`, or (with `cni.netns_dir`) as
  /// `cni-<uuid>` where `ip netns` and other tools look.
  public func newNetns(_ id: String) -> String {
    netnsDirectory.isEmpty ? netns(id) : FilePath.join(netnsDirectory, "cni-" + UUID().uuidString.lowercased())
  }
  /// Where a user-namespaced sandbox's user namespace is pinned.
  public func userns(_ id: String) -> String { FilePath.join(state, "userns/\(id)") }
  /// The saved CNI attachment of a sandbox.
  public func networkCache(_ id: String) -> String { FilePath.join(root, "networks/\(id).json") }
  /// All saved CNI attachments.
  public var networkCaches: String { FilePath.join(root, "networks") }
  /// The AppArmor profile sources crisp loads.
  public var appArmor: String { FilePath.join(root, "apparmor") }
  /// Every sandbox's hostname, hosts and resolv.conf, by sandbox id.
  public var sandboxFilesParent: String { FilePath.join(root, "sandboxes") }
  public func sandboxFiles(_ id: String) -> String { FilePath.join(sandboxFilesParent, id) }
  /// Every sandbox's state directory (holding its /dev/shm mount), by sandbox id.
  public var sandboxStateParent: String { FilePath.join(state, "sandboxes") }
  public func sandboxState(_ id: String) -> String { FilePath.join(sandboxStateParent, id) }
  public func shm(_ id: String) -> String { sandboxState(id) + "/shm" }
  /// The shared read-only views of images that containers mount as image volumes, one per image chain.
  public var imageVolumes: String { FilePath.join(state, "image-volumes") }
  /// The view of the image chain `chainID` (`sha256:<hex>`): `image-volumes/<hex>`.
  public func imageVolume(_ chainID: String) -> String {
    FilePath.join(imageVolumes, chainID.hasPrefix("sha256:") ? String(chainID.dropFirst(7)) : chainID)
  }
  /// A handler's runtime `--root` when the config names none.
  public func runtimeRoot(_ handler: String) -> String { FilePath.join(state, "runtime/\(handler)") }
  /// Scratch space of the start-up probes.
  public func probe(_ name: String) -> String { FilePath.join(state, "probe/\(name)") }
}
