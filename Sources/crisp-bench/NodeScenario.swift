import CRIAPI
import CrispCore
import Foundation

/// `node`: a full node as kubelet drives it, against each endpoint in turn (one at a time, so each
/// runtime has the machine to itself): `pods` pods started `parallelism` at a time (``NodeLifecycle``),
/// kubelet's polling for `steady` (``NodePolling``), the two stats lists ten times each alone, teardown at
/// the same parallelism; then what is left
/// behind (``NodeLeftovers``). All calls go over one connection per endpoint, as kubelet's do.
///
/// CPU per pod start and teardown is read from the daemon's cgroup when deploy/bench.sh started the daemon in
/// a cgroup of its own: the daemon, its shims (which stay in the daemon's cgroup), runc and CNI plugins are
/// all counted, the pods' own processes are not (they run in the pods' cgroups). Otherwise it falls back to
/// /proc: the daemon with the children it reaped, plus the shims alive at each reading (shims that exited
/// in between are missed); the rows say which.
struct NodeScenario: Sendable {
  let endpoints: [CRIEndpoint]
  let image: String
  let pods: Int
  let steady: Duration
  let parallelism: Int
  /// The bench network's host-local data directory, for the IP lease check; nil skips it.
  let cniDataDir: String?
  let report: Report

  static let maxPods = 1000
  static let maxSteadySeconds = 3600

  func run() async {
    let logRoot = "/tmp/crisp-bench-node-logs-\(getpid())"
    defer { try? FilePath.removeTree(logRoot) }
    var results: [String: NodeRunResult] = [:]
    for endpoint in endpoints {
      FileHandle.standardError.write(Data("node: \(endpoint.name): \(pods) pods, \(steady) steady\n".utf8))
      results[endpoint.name] = await measure(endpoint, logRoot: logRoot)
    }
    NodeReport(pods: pods, sides: endpoints.map(\.name), results: results).add(to: report)
  }

  private func measure(_ endpoint: CRIEndpoint, logRoot: String) async -> NodeRunResult {
    var result = NodeRunResult()
    let cgroupParent = "/crisp-bench-node-" + String(endpoint.name.map { $0.isLetter || $0.isNumber ? $0 : "-" })
    let spec = NodePodSpec(image: image, cgroupParent: cgroupParent, logRoot: logRoot)
    let log = CallLog()
    let connection: KubeletConnection
    do {
      connection = try await KubeletConnection.connect(endpoint, log: log)
    } catch {
      result.failure = "cannot connect: \(error)"
      return result
    }
    _ = await NodeLifecycle.sweep(endpoint)
    // One pod started and removed untimed: the runtime's pause image is pulled or built, caches are warm.
    let warmup = NodeLifecycle(connection: KubeletConnection(client: connection.client, log: CallLog()), parallelism: 1)
    await warmup.teardown(await warmup.start([spec.pod(-1)]))

    let daemon = endpoint.serverPID()
    let before = NodeLeftovers.snapshot(cniDataDir: cniDataDir)
    let lifecycle = NodeLifecycle(connection: connection, parallelism: parallelism)
    var started = (0..<pods).map(spec.pod)
    let cpu0 = cpuReading(daemon, ids: [])
    result.startSeconds = await time { started = await lifecycle.start(started) }
    let ids = Set(started.flatMap { [$0.sandboxID, $0.containerID].compactMap { $0 } })
    result.podsStarted = started.filter { $0.containerID != nil }.count
    let cpu1 = cpuReading(daemon, ids: ids)
    result.cpuMethod = cpu1?.method ?? ""
    if let cpu0, let cpu1 { result.startCPU = cpu1.seconds - cpu0.seconds }

    let processes = NodeProcesses.find(daemon: daemon, ids: ids, cgroupParent: cgroupParent)
    let daemonBefore = daemon.flatMap(ProcessAccounting.stat)
    let shimsBefore = NodeProcesses.cpuByPID(processes.shims)
    let polling = NodePolling(connection: connection)
    result.steadySeconds = await time { await polling.run(started, for: steady) }
    if let daemon, let daemonBefore, let daemonAfter = ProcessAccounting.stat(daemon) {
      result.daemonSteadyCPU = daemonAfter.own + daemonAfter.children - daemonBefore.own - daemonBefore.children
    }
    let shimsAfter = NodeProcesses.cpuByPID(processes.shims)
    result.shimSteadyCPU = shimsAfter.reduce(0) { total, entry in total + entry.value - (shimsBefore[entry.key] ?? entry.value) }
    if let daemon { result.daemon = memory(of: daemon) }
    let shimMemory = NodeProcesses.memorySum(processes.shims), pauseMemory = NodeProcesses.memorySum(processes.pauses)
    result.shims = (shimMemory.rss, shimMemory.pss, processes.shims.count)
    result.pauses = (pauseMemory.rss, pauseMemory.pss, processes.pauses.count)

    for _ in 0..<aloneCallCount {
      _ = await connection.call(
        .alone, "ListPodSandboxStats", Runtime_V1_ListPodSandboxStatsRequest(), as: Runtime_V1_ListPodSandboxStatsResponse.self)
      _ = await connection.call(.alone, "ListContainerStats", Runtime_V1_ListContainerStatsRequest(), as: Runtime_V1_ListContainerStatsResponse.self)
    }

    let cpu2 = cpuReading(daemon, ids: ids)
    result.teardownSeconds = await time { await lifecycle.teardown(started) }
    let cpu3 = cpuReading(daemon, ids: ids)
    if let cpu2, let cpu3 { result.teardownCPU = cpu3.seconds - cpu2.seconds }
    await connection.close()

    // Whatever the teardown did not remove is removed now (and reported); then a moment for exiting shims.
    let swept = await NodeLifecycle.sweep(endpoint)
    try? await Task.sleep(for: .seconds(2))
    NodeLeftovers.removePodCgroups(cgroupParent)
    let after = NodeLeftovers.snapshot(cniDataDir: cniDataDir)
    let leftShims = NodeProcesses.find(daemon: daemon, ids: ids, cgroupParent: cgroupParent).shims
    var left = NodeLeftovers.compare(
      before: before, after: after, runtimeDirectory: FilePath.directory(of: endpoint.socketPath), ids: ids, cgroupParent: cgroupParent,
      shims: leftShims)
    if let swept, swept > 0 {
      left.count += swept
      left.detail = "pods still listed after teardown \(swept) (removed); " + left.detail
    } else if swept == nil {
      left.detail = "could not list pods after teardown; " + left.detail
    }
    result.leftoverCount = left.count
    result.leftoverDetail = left.detail
    NodeLeftovers.removeParent(cgroupParent)

    result.calls = await log.samples
    result.errorCount = await log.errorCount
    result.firstErrors = await log.firstErrors
    if result.podsStarted < pods { result.firstErrors.append("only \(result.podsStarted) of \(pods) pods started") }
    return result
  }

  /// The runtime's CPU seconds so far: its cgroup's when it has one of its own, else the daemon's and its
  /// reaped children's from /proc plus those of the shims of `ids` alive now.
  private func cpuReading(_ daemon: Int32?, ids: Set<String>) -> (seconds: Double, method: String)? {
    guard let daemon else { return nil }
    if let cgroup = ProcessAccounting.cgroupCPU(of: daemon) {
      return (cgroup.seconds, "daemon cgroup \(cgroup.path): daemon, shims, runc, CNI plugins")
    }
    guard let own = ProcessAccounting.stat(daemon) else { return nil }
    let shims = NodeProcesses.find(daemon: daemon, ids: ids, cgroupParent: "/nonexistent").shims
    let shimSeconds = NodeProcesses.cpuByPID(shims).values.reduce(0, +)
    return (own.own + own.children + shimSeconds, "/proc: daemon + reaped children + live shims")
  }
}

/// Calls of each stats list in the alone phase: 10, or `CRISP_BENCH_ALONE` (enough to profile one list).
let aloneCallCount = countFromEnvironment("CRISP_BENCH_ALONE", default: 10)
