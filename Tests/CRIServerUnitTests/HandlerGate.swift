import Synchronization

/// Holds the handlers that park on it until the test releases them or their call is cancelled, and counts
/// both, so a test sees whether the transport really cancelled a handler.
final class HandlerGate: Sendable {
  private struct State {
    var nextID = 0
    var waiting: [Int: CheckedContinuation<Bool, Never>] = [:]
    var cancelledIDs: Set<Int> = []
    var released = false
    var entered = 0
  }

  private let state = Mutex(State())

  /// Handlers that have parked.
  var entered: Int { state.withLock { $0.entered } }
  /// Parked handlers whose task was cancelled.
  var cancellations: Int { state.withLock { $0.cancelledIDs.count } }

  /// Returns once released; throws `CancellationError` when the task is cancelled first.
  func park() async throws {
    let id = state.withLock { state in
      state.entered += 1
      defer { state.nextID += 1 }
      return state.nextID
    }
    let released = await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        let answer: Bool? = state.withLock { state in
          if state.cancelledIDs.contains(id) { return false }
          if state.released { return true }
          state.waiting[id] = continuation
          return nil
        }
        if let answer { continuation.resume(returning: answer) }
      }
    } onCancel: {
      let waiter = state.withLock { state in
        state.cancelledIDs.insert(id)
        return state.waiting.removeValue(forKey: id)
      }
      waiter?.resume(returning: false)
    }
    if !released { throw CancellationError() }
  }

  func release() {
    let waiters = state.withLock { state in
      state.released = true
      defer { state.waiting = [:] }
      return Array(state.waiting.values)
    }
    for waiter in waiters { waiter.resume(returning: true) }
  }
}
