public import Images
public import PodNetwork

/// Everything the lifecycle does to the host, behind one seam per kind of thing: the daemon passes the real
/// ones, unit tests pass fakes that record each call and fail at any one of them.
public struct HostServices: Sendable {
  public var shims: any ShimControl
  public var network: any PodNetworking
  public var namespaces: any NamespaceControl
  public var mounts: any MountControl
  public var rootfs: any RootfsProvider
  public var clock: any WallClock
  /// The node's AppArmor: whether it is on, which profiles are loaded, the parser that loads crisp's.
  public var appArmor: AppArmorHost

  public init(
    shims: any ShimControl, network: any PodNetworking, namespaces: any NamespaceControl, mounts: any MountControl,
    rootfs: any RootfsProvider, clock: any WallClock, appArmor: AppArmorHost
  ) {
    self.shims = shims
    self.network = network
    self.namespaces = namespaces
    self.mounts = mounts
    self.rootfs = rootfs
    self.clock = clock
    self.appArmor = appArmor
  }

  /// The real host: crisp-shim, CNI, kernel namespaces and mounts, the image snapshots, the system clock,
  /// the kernel's AppArmor.
  public static func live(shimBinary: String, networks: PodNetworks, snapshotter: Snapshotter) -> HostServices {
    HostServices(
      shims: ShimLauncher(binary: shimBinary), network: networks, namespaces: KernelNamespaces(), mounts: KernelMounts(),
      rootfs: snapshotter, clock: SystemWallClock(), appArmor: .system)
  }
}
