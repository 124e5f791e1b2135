public import CrispCore
public import Images
public import PodNetwork
public import Runtime
import Synchronization

/// A host made of fakes that share one ``HostCallLog``: each keeps the objects it holds (namespaces,
/// mounts, root filesystems, attachments, containers), so a test can assert that nothing is left.
public final class FakeHost: Sendable {
  public let log = HostCallLog()
  public let runtime: FakeContainerRuntime
  public let shims: FakeShims
  public let network: FakePodNetwork
  public let namespaces: FakeNamespaces
  public let mounts: FakeMounts
  public let rootfs: FakeRootfs
  public let clock = FixedClock()
  /// The node's AppArmor as the manager sees it: off unless a test points it at files of its own.
  public let appArmor: AppArmorHost

  public init(handler: String = "runc", appArmor: AppArmorHost = .off) {
    self.appArmor = appArmor
    let containers = FakeContainers()
    runtime = FakeContainerRuntime(handler: handler, log: log, containers: containers)
    shims = FakeShims(log: log, containers: containers)
    network = FakePodNetwork(log: log)
    namespaces = FakeNamespaces(log: log)
    mounts = FakeMounts(log: log)
    rootfs = FakeRootfs(log: log)
  }

  public var services: HostServices {
    HostServices(shims: shims, network: network, namespaces: namespaces, mounts: mounts, rootfs: rootfs, clock: clock, appArmor: appArmor)
  }

  /// What the fakes still hold, one line per object; empty when everything made was undone.
  public var leftovers: [String] {
    runtime.containers.ids.map { "container \($0)" } + network.attached.map { "network \($0)" }
      + namespaces.pinned.map { "namespace \($0)" } + mounts.mounted.map { "mount \($0)" } + rootfs.prepared.map { "rootfs \($0)" }
  }
}

/// A set of names under a lock: what one fake holds.
public final class Held: Sendable {
  private let items = Mutex<Set<String>>([])
  public init() {}
  public func insert(_ item: String) { _ = items.withLock { $0.insert(item) } }
  @discardableResult public func remove(_ item: String) -> Bool { items.withLock { $0.remove(item) != nil } }
  public func contains(_ item: String) -> Bool { items.withLock { $0.contains(item) } }
  public var sorted: [String] { items.withLock { $0.sorted() } }
}

/// Time stamps that only move when a test says so.
public final class FixedClock: WallClock {
  private let value = Mutex<Int64>(1_700_000_000_000_000_000)
  public init() {}
  public func now() -> Int64 { value.withLock { $0 } }
  public func advance(seconds: Int64) { value.withLock { $0 += seconds * 1_000_000_000 } }
}
