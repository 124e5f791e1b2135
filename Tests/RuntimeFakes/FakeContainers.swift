import CrispCore
import Glibc
import Synchronization

/// The containers the fake runtime and fake shims share: created by a shim launch, started and killed
/// through the runtime or the shim, deleted through the runtime. An exit is written to the bundle's `exit`
/// file as crisp-shim writes it, so the code under test reads exits the way it does in production.
public final class FakeContainers: Sendable {
  public enum Status: String, Sendable { case created, running, stopped }
  private struct Container { var status: Status; var bundle: String; var pid: Int64 }
  private let table = Mutex<[String: Container]>([:])
  private let nextPID = Mutex<Int64>(40_000)

  public init() {}

  public var ids: [String] { table.withLock { $0.keys.sorted() } }
  public func status(_ id: String) -> Status? { table.withLock { $0[id]?.status } }

  func create(_ id: String, bundle: String) -> Int64 {
    let pid = nextPID.withLock { value -> Int64 in
      value += 1
      return value
    }
    table.withLock { $0[id] = Container(status: .created, bundle: bundle, pid: pid) }
    return pid
  }

  func start(_ id: String) -> Bool {
    table.withLock { table in
      guard table[id]?.status == .created else { return false }
      table[id]?.status = .running
      return true
    }
  }

  /// Stops the container as `signal` would, writing its exit file; false when it is not there or not live.
  @discardableResult func stop(_ id: String, signal: Int32) -> Bool {
    let bundle: String? = table.withLock { table in
      guard let container = table[id], container.status != .stopped else { return nil }
      table[id]?.status = .stopped
      return container.bundle
    }
    guard let bundle else { return false }
    let text = "exit_code=\(128 + signal)\nsignal=\(signal)\noom_killed=0\nfinished_at=1700000001000000000\n"
    try? AtomicFile.write(text, to: bundle + "/exit")
    return true
  }

  /// The bundle of the container whose shim serves `directory`.
  func id(forBundle directory: String) -> String? {
    table.withLock { $0.first { $0.value.bundle == directory }?.key }
  }

  func delete(_ id: String) { table.withLock { $0[id] = nil } }
}
