import CrispCore

/// Mount propagation of host paths that containers share mounts with.
enum MountPropagation {
  /// Checks that the host mount holding `path` can propagate as asked: shared for bidirectional, shared or
  /// slave for host-to-container. A private host mount would silently propagate nothing, so the request is
  /// refused with what to change, rather than crisp changing the host's mount propagation on its own.
  static func check(_ path: String, shared: Bool, field: String) throws(CrispError) {
    guard let mount = mountInfo(containing: path) else { return }
    if mount.optional.contains("shared:") { return }
    if !shared && mount.optional.contains("master:") { return }
    let needed = shared ? "shared" : "shared or slave"
    throw CrispError.failedPrecondition(
      "\(field).propagation: host path \"\(path)\" is on mount \"\(mount.mountPoint)\", which is not \(needed); run `mount --make-rshared \(mount.mountPoint)` on the node (systemd hosts are shared by default)"
    )
  }

  /// The mountinfo entry of the mount containing `path`: the longest mount point that prefixes it.
  static func mountInfo(containing path: String) -> (mountPoint: String, optional: String)? {
    var best: MountInfo?
    for mount in MountInfo.current() {
      let point = mount.mountPoint
      let matches = point == "/" || path == point || path.hasPrefix(point + "/")
      if matches && point.count >= (best?.mountPoint.count ?? -1) { best = mount }
    }
    return best.map { ($0.mountPoint, $0.optionalFields.joined(separator: " ")) }
  }
}
