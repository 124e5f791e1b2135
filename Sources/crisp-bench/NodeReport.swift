/// Turns the endpoints' ``NodeRunResult``s into report rows: one value per endpoint for the totals, and
/// every call's timings (min / p50 / p99 / max) by phase.
struct NodeReport {
  let pods: Int
  let sides: [String]
  let results: [String: NodeRunResult]

  func add(to report: Report) {
    let prefix = "node, \(pods) pods:"
    row(report, "\(prefix) start wall time (parallelism 10)", "s", target: "≤ 0.6") { $0.startSeconds }
    row(report, "\(prefix) teardown wall time (parallelism 10)", "s", target: "≤ 0.6") { $0.teardownSeconds }
    let method = sides.compactMap { side in results[side].map { "\(side): \($0.cpuMethod)" } }.joined(separator: "; ")
    row(report, "\(prefix) CPU per pod start", "s", detail: method) { r in r.startCPU.map { $0 / Double(max(1, r.podsStarted)) } }
    row(report, "\(prefix) CPU per pod teardown", "s") { r in r.teardownCPU.map { $0 / Double(max(1, r.podsStarted)) } }
    row(report, "\(prefix) daemon CPU while polling, % of one core", "%", target: "≤ 1") { r in percent(r.daemonSteadyCPU, r.steadySeconds) }
    row(report, "\(prefix) shims CPU while polling, % of one core", "%") { r in percent(r.shimSteadyCPU, r.steadySeconds) }
    row(report, "\(prefix) daemon + shims CPU while polling, % of one core", "%", target: "≤ 0.25") { r in
      guard let d = r.daemonSteadyCPU, let s = r.shimSteadyCPU else { return nil }
      return percent(d + s, r.steadySeconds)
    }
    row(report, "\(prefix) daemon PSS", "B") { $0.daemon?.pss }
    row(report, "\(prefix) daemon RSS", "B") { $0.daemon?.rss }
    let counts = sides.compactMap { side in
      results[side].map { "\(side): \($0.shims?.count ?? 0) shims, \($0.pauses?.count ?? 0) pause" }
    }.joined(separator: "; ")
    row(report, "\(prefix) shims PSS, all", "B", detail: counts) { $0.shims?.pss }
    row(report, "\(prefix) shims RSS, all", "B") { $0.shims?.rss }
    row(report, "\(prefix) pause PSS, all", "B") { $0.pauses?.pss }
    row(report, "\(prefix) pause RSS, all", "B") { $0.pauses?.rss }
    row(report, "\(prefix) per pod PSS (pause + its shims)", "B") { r in
      guard let s = r.shims, let p = r.pauses, r.podsStarted > 0 else { return nil }
      return (s.pss + p.pss) / Double(r.podsStarted)
    }
    row(report, "\(prefix) per pod RSS (pause + its shims)", "B") { r in
      guard let s = r.shims, let p = r.pauses, r.podsStarted > 0 else { return nil }
      return (s.rss + p.rss) / Double(r.podsStarted)
    }
    row(report, "\(prefix) daemon + shims + pause PSS", "B") { r in
      guard let d = r.daemon, let s = r.shims, let p = r.pauses else { return nil }
      return d.pss + s.pss + p.pss
    }
    let errors = sides.compactMap { side in
      results[side].map { "\(side): " + ($0.firstErrors.isEmpty ? "none" : $0.firstErrors.joined(separator: " / ")) }
    }.joined(separator: "; ")
    row(report, "\(prefix) errors", "", target: "none", detail: errors) { Double($0.errorCount) }
    let left = sides.compactMap { side in results[side].map { "\(side): \($0.leftoverDetail)" } }.joined(separator: "; ")
    row(report, "\(prefix) left after teardown", "", target: "none", detail: left) { r in r.leftoverCount.map { Double($0) } }
    for phase in NodePhase.allCases {
      let methods = Set(results.values.flatMap { ($0.calls[phase] ?? [:]).keys }).sorted()
      for method in methods {
        var samples: [String: Samples] = [:]
        for side in sides {
          var s = Samples(unit: "s")
          if let result = results[side] {
            if let failure = result.failure { s.unsupported = failure } else { s.values = result.calls[phase]?[method] ?? [] }
          }
          samples[side] = s
        }
        let n = sides.map { "\(samples[$0]?.values.count ?? 0)" }.joined(separator: "/")
        // The bar for kubelet's status and list calls (the stats lists have absolute bars instead).
        let statusOrList = (method.hasPrefix("List") && !method.contains("Stats")) || method.hasSuffix("Status")
        report.add("\(prefix) \(phase.rawValue): \(method) (\(n) calls)", target: statusOrList ? "≤ 0.8" : nil, tail: "p99", samples)
      }
    }
  }

  private func row(
    _ report: Report, _ name: String, _ unit: String, target: String? = nil, detail: String? = nil, _ value: (NodeRunResult) -> Double?
  ) {
    var samples: [String: Samples] = [:]
    for side in sides {
      var s = Samples(unit: unit)
      if let result = results[side] {
        if let failure = result.failure {
          s.unsupported = failure
        } else if let v = value(result) {
          s.values = [v]
        } else {
          s.unsupported = "not measured (daemon process or cgroup not found)"
        }
      }
      samples[side] = s
    }
    report.add(name, target: target, detail: detail, samples)
  }

  private func percent(_ seconds: Double?, _ over: Double?) -> Double? {
    guard let seconds, let over, over > 0 else { return nil }
    return seconds / over * 100
  }
}
