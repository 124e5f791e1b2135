public import CrispCore
import Synchronization

/// What the fakes were asked to do, in order, and where they are told to fail. Shared by every fake of one
/// test so that the log shows the whole sequence (steps and undos) across seams.
public final class HostCallLog: Sendable {
  public struct Call: Sendable, Equatable, CustomStringConvertible {
    /// `seam.operation`, e.g. `netns.create`, `runtime.delete`.
    public var name: String
    /// The object the call was about (a path or a container id).
    public var subject: String
    public var description: String { "\(name) \(subject)" }
  }

  private struct State {
    var calls: [Call] = []
    /// Calls that fail, by name, with how many more times they fail (nil: always).
    var failures: [String: Int?] = [:]
  }
  private let state = Mutex(State())

  public init() {}

  /// Makes the next `times` calls named `name` fail (nil: every one).
  public func fail(_ name: String, times: Int? = 1) {
    state.withLock { $0.failures[name] = .some(times) }
  }

  public var calls: [Call] { state.withLock { $0.calls } }
  public var names: [String] { calls.map(\.name) }

  /// The names of the calls made after the first call named `name`.
  public func names(after name: String) -> [String] {
    let all = names
    guard let index = all.firstIndex(of: name) else { return [] }
    return Array(all[(index + 1)...])
  }

  public func clear() { state.withLock { $0.calls = [] } }

  /// Records a call and throws the injected failure when one is due.
  public func record(_ name: String, _ subject: String) throws(CrispError) {
    if shouldFail(name, subject) { throw Self.injected(name) }
  }

  /// Records a call that cannot throw; returns whether it is to fail (the fake then answers as a failure).
  public func shouldFail(_ name: String, _ subject: String) -> Bool {
    state.withLock { state in
      state.calls.append(Call(name: name, subject: subject))
      guard let entry = state.failures[name] else { return false }
      if let remaining = entry {
        if remaining <= 1 { state.failures[name] = nil } else { state.failures[name] = .some(remaining - 1) }
      }
      return true
    }
  }

  /// The error an injected failure throws: tests check that it reaches the caller unchanged.
  public static func injected(_ name: String) -> CrispError { CrispError(.internal, "injected failure at \(name)") }
}
