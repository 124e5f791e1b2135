public import Config
public import CrispCore
import CLinux
import Foundation
import Glibc
public import Logging
public import Store

/// Layer and container filesystems under `<root>/snapshots/<id>/`.
///
/// Each layer of an image is unpacked once into its own directory, keyed by chain id, and shared by every
/// image with the same chain. A container gets a writable directory on top: with overlayfs the layer chain
/// becomes the lowerdirs of one mount; with the native snapshotter (filesystems where overlayfs does not
/// work) the chain is copied into the container's directory, applying whiteouts as deletions.
public final class Snapshotter: Sendable {
  public enum Mode: String, Sendable { case overlayfs, native }

  public let mode: Mode
  public let root: String
  let store: Store
  private let logger: Logger
  /// Containers' writable-layer usage, measured in the background (``WritableLayerMeter``).
  public let writableUsage = WritableLayerMeter()

  public init(root: String, mode: Mode, store: Store, logger: Logger) throws(CrispError) {
    self.root = root
    self.mode = mode
    self.store = store
    self.logger = logger
    do {
      // Layers and writable layers are reached only through mounts crisp makes: nobody else enters here,
      // also where an older crisp made the directory otherwise.
      try FilePath.makeDirectories(root, mode: 0o700)
      try FilePath.restrict(root)
    } catch {
      throw CrispError.internalError("snapshots \(root): \(error)")
    }
  }

  /// Decides the snapshotter for `auto`: overlayfs when a real test mount on this filesystem works (with
  /// d_type, whiteouts and trusted xattrs), else native, with the reason.
  public static func detect(root: String, configured: CrispConfig.Snapshotter) -> (Mode, String) {
    switch configured {
    case .overlayfs: return (.overlayfs, "configured")
    case .native: return (.native, "configured")
    case .auto:
      if let problem = OverlayProbe.problem(in: root) { return (.native, "overlayfs is not usable on \(root): \(problem)") }
      return (.overlayfs, "overlayfs test mount succeeded")
    }
  }

  public func directory(of id: Int64) -> String { "\(root)/\(id)" }
  public func filesystem(of id: Int64) -> String { "\(root)/\(id)/fs" }

  var whiteoutStyle: WhiteoutStyle { mode == .overlayfs ? .overlay : .markers }

  // MARK: Layers

  /// The committed layer snapshot for `chainID`, if it exists.
  public func layer(chainID: String) throws(CrispError) -> SnapshotRecord? {
    guard let record = try store.snapshot(chainID: chainID), record.state == .committed else { return nil }
    return record
  }

  /// Creates the layer snapshot for `chainID` on top of `parentChainID`, filling its directory with `fill`.
  /// On any failure nothing is left: no directory, no record. Callers serialise per chain id.
  public func createLayer(chainID: String, parentChainID: String?, fill: (String) throws(CrispError) -> Void) throws(CrispError) -> SnapshotRecord {
    var parentID: Int64?
    if let parentChainID {
      guard let parent = try layer(chainID: parentChainID) else {
        throw CrispError.internalError("snapshot for parent chain \(parentChainID) is missing")
      }
      parentID = parent.id
    }
    if let stale = try store.snapshot(chainID: chainID) {
      // A previous attempt died before committing.
      try discard(stale.id)
    }
    let id = try store.createSnapshot(kind: .layer, chainID: chainID, parentID: parentID, owner: nil)
    let directory = filesystem(of: id)
    do {
      try FilePath.makeDirectories(directory, mode: 0o755)
      try fill(directory)
      // What the layer uses, recorded with its commit: the image filesystem's usage is then a sum.
      let usage = DiskUsage.measure(self.directory(of: id))
      if let failure = usage.failure {
        logger.warning("layer only partly measured", metadata: ["snapshot": "\(id)", "reason": "\(failure)"])
      }
      try store.commitSnapshot(id, measured: UsageTotals(bytes: usage.bytes, inodes: usage.inodes))
      guard let record = try store.snapshot(id: id) else { throw CrispError.internalError("snapshot \(id) vanished") }
      return record
    } catch let error as CrispError {
      try? discard(id)
      throw error
    } catch {
      try? discard(id)
      throw CrispError.internalError("snapshot \(id): \(error)")
    }
  }

  /// The chain below and including `chainID`, top layer first.
  public func chain(topChainID: String) throws(CrispError) -> [SnapshotRecord] {
    guard var current = try layer(chainID: topChainID) else {
      throw CrispError.notFound("layer snapshot for chain \(topChainID) is missing")
    }
    var result = [current]
    while let parentID = current.parentID {
      guard let parent = try store.snapshot(id: parentID) else {
        throw CrispError.internalError("snapshot \(current.id) has a missing parent \(parentID)")
      }
      result.append(parent)
      current = parent
    }
    return result
  }

  /// Removes a snapshot's directory and record.
  public func discard(_ id: Int64) throws(CrispError) {
    // Idmapped staging mounts (mountShifted) of a daemon killed mid-mount must go before the tree is removed.
    let staging = "\(directory(of: id))/idmap"
    if FilePath.exists(staging) { Mounts.unmountAll(under: staging) }
    do {
      try FilePath.removeTree(directory(of: id))
    } catch {
      throw CrispError.internalError("remove snapshot \(id): \(error)")
    }
    try store.deleteSnapshot(id)
  }

  // MARK: Container root filesystems

  /// How a user-namespaced pod's root filesystems are shifted: the pinned user namespace whose mapping the
  /// layers are seen through, and the host ids of the container's root (owner of the writable layer).
  public struct IDShift: Sendable, Equatable {
    public var userns: String
    public var rootUID: UInt32
    public var rootGID: UInt32

    public init(userns: String, rootUID: UInt32, rootGID: UInt32) {
      self.userns = userns
      self.rootUID = rootUID
      self.rootGID = rootGID
    }
  }

  /// Creates `owner`'s writable snapshot on the image chain `chainID` and mounts (or, native, assembles and
  /// binds) it at `target`. With `shift`, the shared layers are seen through idmapped mounts (never
  /// chowned: other pods share them) and the new, empty writable layer belongs to the container's root.
  /// On failure nothing is left mounted or on disk.
  public func prepareRootfs(owner: String, chainID: String, target: String, shift: IDShift? = nil) throws(CrispError) {
    let layers = try chain(topChainID: chainID)
    let id = try store.createSnapshot(kind: .active, chainID: nil, parentID: layers.first?.id, owner: owner)
    let upper = filesystem(of: id)
    let work = "\(directory(of: id))/work"
    do {
      try FilePath.makeDirectories(upper, mode: 0o755)
      try FilePath.makeDirectories(target, mode: 0o755)
      switch (mode, shift) {
      case (.overlayfs, nil):
        try FilePath.makeDirectories(work, mode: 0o700)
        try OverlayMount.mount(lowers: layers.map { filesystem(of: $0.id) }, upper: upper, work: work, target: target)
      case (.overlayfs, let shift?):
        try FilePath.makeDirectories(work, mode: 0o700)
        guard chown(upper, shift.rootUID, shift.rootGID) == 0 else {
          throw CrispError.from(SystemError.last("chown", upper))
        }
        try mountShifted(layers: layers, snapshot: id, upper: upper, work: work, target: target, shift: shift)
      case (.native, nil):
        try NativeMerge.merge(layers: layers.reversed().map { filesystem(of: $0.id) }, into: upper)
        try Mounts.bind(upper, at: target)
      case (.native, let shift?):
        // The container's own copy, so its ids stay as unpacked and the mount shifts them.
        try NativeMerge.merge(layers: layers.reversed().map { filesystem(of: $0.id) }, into: upper)
        try Mounts.idmappedClone(upper, userns: shift.userns, at: target)
      }
      try store.commitSnapshot(id, size: 0)
    } catch let error as CrispError {
      _ = try? Mounts.unmount(target)
      try? discard(id)
      throw error
    } catch {
      _ = try? Mounts.unmount(target)
      try? discard(id)
      throw CrispError.internalError("rootfs for \(owner): \(error)")
    }
  }

  /// overlayfs over idmapped lower layers: each layer gets an idmapped staging mount under the snapshot's
  /// directory for as long as the overlay mount takes (overlayfs keeps private clones of its layers, so the
  /// staging mounts are detached right after).
  private func mountShifted(layers: [SnapshotRecord], snapshot: Int64, upper: String, work: String, target: String, shift: IDShift) throws(CrispError)
  {
    let staging = "\(directory(of: snapshot))/idmap"
    var lowers: [String] = []
    defer { Mounts.removeStaging(lowers, in: staging) }
    for (index, layer) in layers.enumerated() {
      let path = "\(staging)/\(index)"
      do {
        try FilePath.makeDirectories(path, mode: 0o700)
      } catch {
        throw CrispError.failed("idmapped layer staging \(path)", error)
      }
      lowers.append(path)
      try Mounts.idmappedClone(filesystem(of: layer.id), userns: shift.userns, at: path)
    }
    try OverlayMount.mount(lowers: lowers, upper: upper, work: work, target: target)
  }

  /// Unmounts `target` (if mounted) and deletes `owner`'s writable snapshot. Idempotent.
  public func removeRootfs(owner: String, target: String?) throws(CrispError) {
    if let target { try Mounts.unmount(target) }
    if let record = try store.snapshot(owner: owner) { try discard(record.id) }
    writableUsage.forget(owner)
  }

  /// The writable layer's directory for `owner` (for writable-layer usage stats).
  public func writableDirectory(owner: String) throws(CrispError) -> String? {
    try store.snapshot(owner: owner).map { filesystem(of: $0.id) }
  }

  /// Start-up repair: snapshots a killed daemon left half made, and directories without a record.
  public func removeIncomplete() throws(CrispError) {
    let records = try store.allSnapshots()
    for record in records where record.state == .preparing {
      logger.info("removing incomplete snapshot", metadata: ["id": "\(record.id)"])
      try discard(record.id)
    }
    let known = Set(records.filter { $0.state == .committed }.map { String($0.id) })
    for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where !known.contains(name) && !name.hasPrefix(".") {
      logger.info("removing unreferenced snapshot directory", metadata: ["name": "\(name)"])
      try? FilePath.removeTree("\(root)/\(name)")
    }
  }
}
