import Foundation

/// Spreads a stats pass over the node's cores. A pass is a few system calls per cgroup file (several
/// thousand with 110 pods), each cheap, none waiting on another: kubelet waits for the whole list, so
/// reading the pods in a few slices side by side cuts its wait by the number of cores on an idle node.
enum StatsPass {
  /// Fewer items than this per slice are read in one go: the tasks would cost more than they save.
  static let minimumPerSlice = 16
  /// At most this many slices, whatever the core count.
  static let maximumSlices = 4

  /// `transform` of every item, in the items' order. `cores` is for tests (default: this machine's).
  static func map<Item: Sendable, Result: Sendable>(
    _ items: [Item], cores: Int = ProcessInfo.processInfo.activeProcessorCount, _ transform: @escaping @Sendable (Item) async -> Result
  ) async -> [Result] {
    @Sendable func inTurn(_ part: [Item]) async -> [Result] {
      var results: [Result] = []
      results.reserveCapacity(part.count)
      for item in part { results.append(await transform(item)) }
      return results
    }
    let slices = min(max(1, cores), maximumSlices, items.count / minimumPerSlice)
    guard slices > 1 else { return await inTurn(items) }
    let size = (items.count + slices - 1) / slices
    return await withTaskGroup(of: (Int, [Result]).self) { group in
      for slice in 0..<slices {
        let part = Array(items[min(slice * size, items.count)..<min((slice + 1) * size, items.count)])
        group.addTask { (slice, await inTurn(part)) }
      }
      var parts = [[Result]](repeating: [], count: slices)
      for await (slice, results) in group where parts.indices.contains(slice) { parts[slice] = results }
      return parts.flatMap { $0 }
    }
  }
}
