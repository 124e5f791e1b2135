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

/// Undo steps collected while creating something; run in reverse on failure.
struct Rollback {
  private var steps: [(String, @Sendable () async throws -> Void)] = []

  mutating func add(_ what: String, _ step: @escaping @Sendable () async throws -> Void) {
    steps.append((what, step))
  }

  /// Runs every step, newest first; a failing step does not stop the others. Returns whether every step
  /// succeeded, so a caller can keep a record of what is left instead of forgetting it.
  @discardableResult
  func run(log: (String, any Error) -> Void) async -> Bool {
    var clean = true
    for (what, step) in steps.reversed() {
      do {
        try await step()
      } catch {
        clean = false
        log(what, error)
      }
    }
    return clean
  }
}
