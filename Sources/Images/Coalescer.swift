public import CrispCore

/// Runs one operation per key at a time and lets concurrent callers with the same key share its result:
/// two pulls of one image download it once; two images with a common base layer unpack it once.
public actor Coalescer<Value: Sendable> {
  private var running: [String: Task<Value, any Error>] = [:]

  public init() {}

  public func run(_ key: String, _ operation: @escaping @Sendable () async throws -> Value) async throws(CrispError) -> Value {
    let task: Task<Value, any Error>
    if let existing = running[key] {
      task = existing
    } else {
      task = Task { try await operation() }
      running[key] = task
      Task { [weak self] in
        _ = try? await task.value
        await self?.finished(key, task)
      }
    }
    do {
      return try await withTaskCancellationHandler {
        try await task.value
      } onCancel: {
        // The shared work goes on for the other callers (and fills the cache); this caller stops waiting.
      }
    } catch let error as CrispError {
      throw error
    } catch is CancellationError {
      throw CrispError(.cancelled, "cancelled")
    } catch {
      throw CrispError.internalError("\(key): \(error)", cause: error)
    }
  }

  private func finished(_ key: String, _ task: Task<Value, any Error>) {
    if running[key] == task { running[key] = nil }
  }
}

/// Counts operations that may create content (pulls, imports, container creates) so garbage collection
/// never runs while one of them is between writing a blob or snapshot and recording what uses it.
public actor ContentLeases {
  private var active = 0
  private var idleWaiters: [CheckedContinuation<Void, Never>] = []

  public init() {}

  public func acquire() { active += 1 }

  public func release() {
    active -= 1
    if active == 0 {
      let waiters = idleWaiters
      idleWaiters = []
      for waiter in waiters { waiter.resume() }
    }
  }

  /// Runs `body` when no lease is held, with none taken until it returns: `body` is synchronous and runs on
  /// this actor, so a pull that starts meanwhile waits for it. Garbage collection runs here.
  public func exclusively<T: Sendable>(_ body: () throws(CrispError) -> T) async throws(CrispError) -> T {
    while active > 0 {
      await withCheckedContinuation { idleWaiters.append($0) }
    }
    return try body()
  }

  /// Runs `body` like ``exclusively(_:)`` if no lease is held right now, else returns nil without waiting.
  public func ifIdle<T: Sendable>(_ body: () throws(CrispError) -> T) throws(CrispError) -> T? {
    guard active == 0 else { return nil }
    return try body()
  }

  /// Runs `body` holding a lease.
  public nonisolated func with<T: Sendable>(_ body: @Sendable () async throws(CrispError) -> T) async throws(CrispError) -> T {
    await acquire()
    do {
      let result = try await body()
      await release()
      return result
    } catch {
      await release()
      throw error
    }
  }
}
