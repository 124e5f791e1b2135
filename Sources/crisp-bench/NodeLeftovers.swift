import CrispCore
import Foundation

/// What a runtime leaves on the host after the node scenario's teardown, found by comparing a snapshot
/// taken before the pods started with one taken after:
/// - mounts: new mount points under the runtime's directory (the endpoint socket's directory, where
///   deploy/bench.sh puts each runtime's root and state) or naming a pod's or container's id;
/// - netns: new `nsfs` mounts (network namespaces pinned by bind mounts, wherever the runtime keeps them);
/// - shims: shim processes for the pods' ids still running;
/// - cgroups: directories left below the pods' cgroup parent, in any hierarchy, once the bench has removed
///   the (empty) pod cgroups as kubelet would;
/// - IP leases: new files in the bench network's host-local data directory (when it is given).
struct NodeLeftovers: Sendable {
  let mounts: Set<String>
  let namespaces: Set<String>
  let leases: Set<String>

  static func snapshot(cniDataDir: String?) -> NodeLeftovers {
    var mounts: Set<String> = [], namespaces: Set<String> = []
    let table = ((try? FilePath.readText("/proc/self/mountinfo")) ?? nil) ?? ""
    for line in table.split(separator: "\n") {
      // id parent major:minor root mount-point options … - fstype source options
      let fields = line.split(separator: " ")
      guard fields.count > 4 else { continue }
      let point = String(fields[4])
      mounts.insert(point)
      if let dash = fields.firstIndex(of: "-"), fields.index(after: dash) < fields.endIndex, fields[fields.index(after: dash)] == "nsfs" {
        namespaces.insert(point)
      }
    }
    var leases: Set<String> = []
    if let cniDataDir {
      for name in (try? FileManager.default.contentsOfDirectory(atPath: cniDataDir)) ?? [] where name.contains(".") || name.contains(":") {
        if !name.hasPrefix("last_reserved_ip") { leases.insert(name) }
      }
    }
    return NodeLeftovers(mounts: mounts, namespaces: namespaces, leases: leases)
  }

  /// What is left, as counts by kind and a short description of the first few of each.
  static func compare(
    before: NodeLeftovers, after: NodeLeftovers, runtimeDirectory: String, ids: Set<String>, cgroupParent: String, shims: [Int32]
  ) -> (count: Int, detail: String) {
    let newMounts = after.mounts.subtracting(before.mounts)
    let mounts = newMounts.filter { point in point.hasPrefix(runtimeDirectory + "/") || ids.contains { point.contains($0) } }
    let namespaces = after.namespaces.subtracting(before.namespaces)
    let leases = after.leases.subtracting(before.leases)
    let cgroups = leftCgroups(cgroupParent)
    let kinds: [(String, [String])] = [
      ("mounts", mounts.sorted()), ("netns", namespaces.subtracting(mounts).sorted()), ("shims", shims.map { "pid \($0)" }),
      ("cgroups", cgroups), ("IP leases", leases.sorted()),
    ]
    let count = kinds.reduce(0) { $0 + $1.1.count }
    let detail = kinds.filter { !$0.1.isEmpty }.map { "\($0.0) \($0.1.count): \($0.1.prefix(3).joined(separator: ", "))" }
    return (count, detail.isEmpty ? "nothing left" : detail.joined(separator: "; "))
  }

  /// Directories below `parent` in every cgroup hierarchy (v1 controllers and the v2 tree), at most two
  /// levels down and 1000 in all.
  static func leftCgroups(_ parent: String) -> [String] {
    let roots = hierarchyRoots(parent)
    var found: [String] = []
    for root in roots {
      var queue: [(path: String, depth: Int)] = [(root, 0)]
      while let item = queue.popLast(), found.count < 1000 {
        let directory = item.path, depth = item.depth
        guard depth < 2 else { continue }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
          var isDirectory: ObjCBool = false
          let path = "\(directory)/\(name)"
          guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
          found.append(String(path.dropFirst("/sys/fs/cgroup".count)))
          queue.append((path, depth + 1))
        }
      }
    }
    return found
  }

  /// Removes the pods' cgroups (`pod<uid>` below `parent`) as kubelet does once a pod is gone (``removeParent(_:)``
  /// removes `parent` later). Only empty directories go: a pod cgroup still holding a container's stays, and is reported.
  static func removePodCgroups(_ parent: String) {
    for root in hierarchyRoots(parent) {
      for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where name.hasPrefix("pod") {
        rmdir("\(root)/\(name)")
      }
    }
  }

  /// Removes the (empty) cgroup parent directories made for the pods; non-empty ones stay.
  static func removeParent(_ parent: String) {
    for root in hierarchyRoots(parent) { rmdir(root) }
  }

  /// `parent` in the v2 tree and in every v1 controller's hierarchy.
  private static func hierarchyRoots(_ parent: String) -> [String] {
    var roots = ["/sys/fs/cgroup\(parent)"]
    for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
      roots.append("/sys/fs/cgroup/\(hierarchy)\(parent)")
    }
    return roots
  }
}
