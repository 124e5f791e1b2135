public import CrispCore
public import PodNetwork

/// What the lifecycle asks of pod networking (CNI): a protocol so that RunPodSandbox's rollback can be
/// tested with a network that fails on demand; ``PodNetworks`` is the real one.
public protocol PodNetworking: Sendable {
  /// Throws when no usable network configuration is loaded (the pod would have no network).
  func requireReady() throws(CrispError)
  /// CNI ADD for every network of the pod; saves the attachment to `cacheFile`; returns the pod's IPs.
  func attach(_ request: PodNetworkRequest, podCIDRs: [String], cacheFile: String) async throws(CrispError) -> [String]
  /// CNI DEL for the attachment saved in `cacheFile`; no file is fine.
  func detach(cacheFile: String) async throws(CrispError)
}

extension PodNetworks: PodNetworking {
  public func requireReady() throws(CrispError) {
    let _: CNIConfigLoad = try requireReady()
  }
}
