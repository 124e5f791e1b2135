public import CrispCore
import Glibc
import Store

/// Read-only views of whole images, for image volumes (KEP-4639): one view per image chain, shared by
/// every container that mounts that image.
///
/// A view is kept by an `active` snapshot owned by ``imageViewOwner(_:)``: garbage collection then keeps
/// the image's layers for as long as the view exists, even when the image record goes. With overlayfs the
/// snapshot's directory stays empty and is the top lower layer of a lowerdir-only overlay (overlayfs needs
/// two lower layers without an upper one); with the native snapshotter it holds the merged copy, bound
/// read-only. Either way the mount at the target is read-only, nosuid and nodev.
extension Snapshotter {
  /// Snapshot owners of image views start with this; everything else with an owner is a container's.
  public static let imageViewOwnerPrefix = "image-view:"

  /// The snapshot owner that keeps the view of `chainID`.
  public static func imageViewOwner(_ chainID: String) -> String { imageViewOwnerPrefix + chainID }

  /// Mounts the view of the image chain `chainID` at `target`, unless it is mounted there already. On failure
  /// nothing this call made is left (a view that existed before stays).
  public func mountImageView(chainID: String, at target: String) throws(CrispError) {
    let layers = try chain(topChainID: chainID)
    let owner = Self.imageViewOwner(chainID)
    var keeper = try store.snapshot(owner: owner)
    if let stale = keeper, stale.state != .committed {
      // A daemon died while making it.
      try discard(stale.id)
      keeper = nil
    }
    if keeper != nil, Mounts.isMountPoint(target) { return }
    let made = keeper == nil
    let id: Int64
    if let keeper {
      id = keeper.id
    } else {
      id = try store.createSnapshot(kind: .active, chainID: nil, parentID: layers.first?.id, owner: owner)
    }
    let copy = filesystem(of: id)
    do throws(CrispError) {
      if made {
        try makeDirectory(copy)
        if mode == .native { try NativeMerge.merge(layers: layers.reversed().map { filesystem(of: $0.id) }, into: copy) }
        // A view does not change once made: its usage is the image's, recorded with its commit.
        let usage = DiskUsage.measure(directory(of: id))
        try store.commitSnapshot(id, measured: UsageTotals(bytes: usage.bytes, inodes: usage.inodes))
      }
      try makeDirectory(target)
      if !Mounts.isMountPoint(target) {
        switch mode {
        case .overlayfs: try OverlayMount.mountReadOnly(lowers: [copy] + layers.map { filesystem(of: $0.id) }, target: target)
        case .native: try Mounts.bind(copy, at: target)
        }
        try Mounts.restrictReadOnly(target)
      }
    } catch {
      _ = try? Mounts.unmount(target)
      if made { try? discard(id) }
      throw error
    }
  }

  /// Unmounts the view of `chainID` at `target`, removes the mount point and the snapshot that kept it.
  /// Idempotent: a view that is not there is fine.
  public func removeImageView(chainID: String, at target: String) throws(CrispError) {
    try Mounts.unmount(target)
    if rmdir(target) != 0 && errno != ENOENT {
      throw CrispError.from(SystemError.last("remove image view mount point", target))
    }
    if let keeper = try store.snapshot(owner: Self.imageViewOwner(chainID)) { try discard(keeper.id) }
  }

  /// The chains that have a view snapshot: for start-up to find views no container holds any more.
  public func imageViewChains() throws(CrispError) -> [String] {
    try store.allSnapshots().compactMap { record in
      guard let owner = record.owner, owner.hasPrefix(Self.imageViewOwnerPrefix) else { return nil }
      return String(owner.dropFirst(Self.imageViewOwnerPrefix.count))
    }
  }

  private func makeDirectory(_ path: String) throws(CrispError) {
    do {
      try FilePath.makeDirectories(path, mode: 0o755)
    } catch {
      throw CrispError.failed("image view \(path)", error)
    }
  }
}
