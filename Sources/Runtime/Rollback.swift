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
