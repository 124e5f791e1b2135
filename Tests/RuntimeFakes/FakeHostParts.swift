public import CrispCore
import Glibc
public import Images
public import PodNetwork
public import Runtime

/// CNI in memory: an attachment per cache file.
public struct FakePodNetwork: PodNetworking {
  let log: HostCallLog
  let held = Held()
  public var attached: [String] { held.sorted }

  public func requireReady() throws(CrispError) { try log.record("network.requireReady", "") }

  public func attach(_ request: PodNetworkRequest, podCIDRs: [String], cacheFile: String) async throws(CrispError) -> [String] {
    try log.record("network.attach", cacheFile)
    held.insert(cacheFile)
    return ["10.88.0.7"]
  }

  public func detach(cacheFile: String) async throws(CrispError) {
    try log.record("network.detach", cacheFile)
    held.remove(cacheFile)
  }
}

/// Pinned namespaces as a set of paths.
public struct FakeNamespaces: NamespaceControl {
  let log: HostCallLog
  let held = Held()
  public var pinned: [String] { held.sorted }

  public func createNetwork(at path: String) async throws(CrispError) {
    try log.record("netns.create", path)
    held.insert(path)
  }
  public func removeNetwork(at path: String) throws(CrispError) {
    try log.record("netns.remove", path)
    held.remove(path)
  }
  public func createUser(at path: String, uids: UserNamespace.Mapping, gids: UserNamespace.Mapping, netnsPath: String?) async throws(CrispError) {
    try log.record("userns.create", path)
    held.insert(path)
    if let netnsPath { held.insert(netnsPath) }
  }
  public func removeUser(at path: String) throws(CrispError) {
    try log.record("userns.remove", path)
    held.remove(path)
  }
}

/// Mounts as a set of targets.
public struct FakeMounts: MountControl {
  let log: HostCallLog
  let held = Held()
  public var mounted: [String] { held.sorted }

  public func tmpfs(at target: String, options: String, flags: [Mounts.Flag]) throws(CrispError) {
    try log.record("mounts.tmpfs", target)
    held.insert(target)
  }
  @discardableResult public func unmount(_ target: String) throws(CrispError) -> Bool {
    try log.record("mounts.unmount", target)
    return held.remove(target)
  }
  public func unmountAll(under directory: String) {
    _ = log.shouldFail("mounts.unmountAll", directory)
    for target in held.sorted where target.hasPrefix(directory + "/") { held.remove(target) }
  }
  public func idmappedClone(_ source: String, userns: String, at target: String) throws(CrispError) {
    try log.record("mounts.idmappedClone", target)
    held.insert(target)
  }
  public func removeStaging(_ targets: [String], in directory: String) {
    _ = log.shouldFail("mounts.removeStaging", directory)
    for target in targets { held.remove(target) }
  }
}

/// Root filesystems: the target directory is created (code under test writes beside it) and remembered.
public struct FakeRootfs: RootfsProvider {
  let log: HostCallLog
  let held = Held()
  public var prepared: [String] { held.sorted }

  public func prepareRootfs(owner: String, chainID: String, target: String, shift: Snapshotter.IDShift?) throws(CrispError) {
    try log.record("rootfs.prepare", owner)
    do {
      try FilePath.makeDirectories(target + "/etc", mode: 0o755)
    } catch {
      throw CrispError.failed("fake rootfs \(target)", error)
    }
    held.insert(owner)
  }
  public func removeRootfs(owner: String, target: String?) throws(CrispError) {
    try log.record("rootfs.remove", owner)
    held.remove(owner)
  }

  /// An image's view as a small tree at `target` (the code under test resolves sub paths in it for real):
  /// `data/file`, `data/sub/`, a file `notdir`, and symlinks `up` → `../../..` and `etc-link` → `/etc`
  /// pointing out of the image, `inside` → `/data` pointing into it. Held as `view <chain>`.
  public func mountImageView(chainID: String, at target: String) throws(CrispError) {
    try log.record("rootfs.mountView", chainID)
    guard !held.contains("view " + chainID) else { return }
    do {
      try FilePath.makeDirectories(target + "/data/sub", mode: 0o755)
      try AtomicFile.write("image data", to: target + "/data/file")
      try AtomicFile.write("", to: target + "/notdir")
      for (name, destination) in [("up", "../../.."), ("etc-link", "/etc"), ("inside", "/data")] {
        guard symlink(destination, target + "/" + name) == 0 else { throw SystemError.last("symlink", name) }
      }
    } catch {
      try? FilePath.removeTree(target)
      throw CrispError.failed("fake image view \(target)", error)
    }
    held.insert("view " + chainID)
  }

  public func removeImageView(chainID: String, at target: String) throws(CrispError) {
    try log.record("rootfs.removeView", chainID)
    do {
      try FilePath.removeTree(target)
    } catch {
      throw CrispError.failed("fake image view \(target)", error)
    }
    held.remove("view " + chainID)
  }

  /// A query, not logged (recovery asks it every time).
  public func imageViewChains() throws(CrispError) -> [String] {
    held.sorted.filter { $0.hasPrefix("view ") }.map { String($0.dropFirst(5)) }
  }
}
