/// One lock per key (a sandbox or container id): calls on the same object run one at a time, calls on
/// different objects run in parallel.
actor KeyedLocks {
  private var held: Set<String> = []
  private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

  private func lock(_ key: String) async {
    while held.contains(key) {
      await withCheckedContinuation { waiters[key, default: []].append($0) }
    }
    held.insert(key)
  }

  private func unlock(_ key: String) {
    held.remove(key)
    if var queue = waiters[key], !queue.isEmpty {
      let next = queue.removeFirst()
      waiters[key] = queue.isEmpty ? nil : queue
      next.resume()
    }
  }

  nonisolated func with<T: Sendable, E: Error>(_ key: String, _ body: () async throws(E) -> T) async throws(E) -> T {
    await lock(key)
    do {
      let result = try await body()
      await unlock(key)
      return result
    } catch {
      await unlock(key)
      throw error
    }
  }
}
