public import CrispCore
import PodNetwork

extension RuntimeManager {
  /// CNI CHECK of a sandbox's networks (versions 0.4.0 and later): the plugins verify what ADD set up.
  /// Runs under the sandbox's lock, and only while the sandbox is ready: the CNI spec forbids CHECK
  /// concurrently with a DEL of the same attachment (StopPodSandbox, RemovePodSandbox). Returns false when
  /// the sandbox was no longer ready (nothing checked).
  public func checkNetwork(_ id: String) async throws(CrispError) -> Bool {
    try await locks.with(id) { () async throws(CrispError) -> Bool in
      guard let current = try store.sandbox(id: id), current.state == .ready else { return false }
      try await networks.check(cacheFile: networkCacheFile(id))
      return true
    }
  }

  /// kubelet's UpdateRuntimeConfig: records the node's pod CIDRs (IPAM plugins that take `ipRanges` get
  /// them) and, with `cni.conf_template` set, renders the template into `conf_dir` so the node has a
  /// network without an add-on. An empty CIDR (kubelet sends one before the node has a range) changes nothing.
  public func updatePodCIDR(_ field: String) throws(CrispError) {
    let cidrs = try CNIConfTemplate.parseCIDRs(field)
    guard !cidrs.isEmpty else { return }
    let previous = podCIDRs.withLock { current in
      let previous = current
      current = cidrs
      return previous
    }
    guard !config.cni.confTemplate.isEmpty else { return }
    let template: String
    do {
      guard let text = try FilePath.readText(config.cni.confTemplate) else {
        throw CrispError.failedPrecondition("cni.conf_template \(config.cni.confTemplate) does not exist")
      }
      template = text
    } catch let error as SystemError {
      throw CrispError.failedPrecondition("cni.conf_template \(config.cni.confTemplate): \(error)")
    } catch {
      throw CrispError.from(error)
    }
    let rendered = Array(try CNIConfTemplate.render(template, podCIDRs: cidrs).utf8)
    let target = FilePath.join(config.cni.confDir, CNIConfTemplate.fileName)
    do {
      _ = try CNIConfigLoader.parse(rendered, isList: true, file: target)
    } catch {
      throw CrispError.failedPrecondition("cni.conf_template \(config.cni.confTemplate) renders an invalid conflist: \(error.message)")
    }
    if previous == cidrs, (try? FilePath.read(target)) == .some(rendered) { return }
    do {
      try FilePath.makeDirectories(config.cni.confDir, mode: 0o755)
      try AtomicFile.write(rendered, to: target, mode: 0o644)
    } catch {
      throw CrispError.internalError("write \(target): \(error)")
    }
    networks.watcher.reload()
    logger.info("rendered the CNI config template for the pod CIDR", metadata: ["cidrs": "\(cidrs)", "file": "\(target)"])
  }
}
