import CRIAPI
import Foundation
import GRPCCore

/// The `imagefs` scenario: ImageFsInfo's latency as the image store grows. Each endpoint in turn pulls a
/// generated image set (deploy/bench.sh pushes `<repository>:1` … `:<count>`, each `baseBytes` unpacked)
/// to 1×, 10× and 100× one image, and at each size answers 200 ImageFsInfo calls in a row and a few first
/// calls after a change (a re-pull, which a runtime that caches a walk of its store must walk again after).
/// The endpoint removes the images before the next one fills its store, so only one holds them at a time.
struct ImageFsBench: Sendable {
  let endpoints: [CRIEndpoint]
  let repository: String
  let count: Int
  let baseBytes: Double
  let iterations: Int
  let report: Report

  static let multiples = [1, 10, 100]

  private func reference(_ index: Int) -> String { "\(repository):\(index)" }

  func run() async {
    let levels = Array(Set(Self.multiples.map { max(1, min($0, count)) })).sorted()
    var steady: [Int: [String: Samples]] = [:]
    var afterChange: [Int: [String: Samples]] = [:]
    for endpoint in endpoints {
      var held = 0
      var failure: String?
      for level in levels {
        var calls = Samples(unit: "s"), changed = Samples(unit: "s")
        if failure == nil {
          do {
            held = try await fill(endpoint, from: held, to: level)
            calls.values = try await callsInARow(endpoint)
            changed.values = try await callsAfterChange(endpoint)
            let info = try await endpoint.withClients { _, images in try await images.imageFsInfo(.init()) }
            let used = info.imageFilesystems.first
            emit(
              "\(endpoint.name) at \(level)×: image filesystem \(Report.format(Double(used?.usedBytes.value ?? 0), "B")), "
                + "\(used?.inodesUsed.value ?? 0) inodes")
          } catch let error as RPCError {
            failure = "\(error.code): \(error.message)"
          } catch {
            failure = "\(error)"
          }
        }
        if let failure {
          calls.unsupported = failure
          changed.unsupported = failure
        }
        steady[level, default: [:]][endpoint.name] = calls
        afterChange[level, default: [:]][endpoint.name] = changed
      }
      await remove(endpoint, upTo: max(held, levels.last ?? 0))
    }
    for level in levels {
      let label = "\(level)× (\(level) images, \(Report.format(Double(level) * baseBytes, "B")) unpacked)"
      report.add("ImageFsInfo at \(label), 200 calls in a row", steady[level] ?? [:])
      emit("  p99: " + percentile99(steady[level] ?? [:]))
      report.add("ImageFsInfo at \(label), first call after a change", afterChange[level] ?? [:])
      emit("  p99: " + percentile99(afterChange[level] ?? [:]))
    }
  }

  /// Pulls images `held + 1` … `level`; returns how many the endpoint now holds.
  private func fill(_ endpoint: CRIEndpoint, from held: Int, to level: Int) async throws -> Int {
    guard held < level else { return held }
    let started = ContinuousClock.now
    try await endpoint.withClients { _, images in
      for index in (held + 1)...level { _ = try await images.pullImage(.with { $0.image.image = reference(index) }) }
    }
    emit("\(endpoint.name): pulled images \(held + 1)…\(level) in \(ContinuousClock.now - started)")
    return level
  }

  /// 200 calls, each timed alone, on two connections of 100 (as ``steadyCalls``).
  private func callsInARow(_ endpoint: CRIEndpoint) async throws -> [Double] {
    var values: [Double] = []
    for _ in 0..<2 {
      values += try await endpoint.withClients { _, images in
        _ = try await images.imageFsInfo(.init())
        var values: [Double] = []
        for _ in 0..<100 { values.append(try await time { _ = try await images.imageFsInfo(.init()) }) }
        return values
      }
    }
    return values
  }

  /// The first call after the store changed: re-pulling an image it holds records it again (crisp before usage
  /// accounting dropped its cached walk then).
  private func callsAfterChange(_ endpoint: CRIEndpoint) async throws -> [Double] {
    var values: [Double] = []
    for _ in 0..<max(5, iterations) {
      values.append(
        try await endpoint.withClients { _, images in
          _ = try await images.pullImage(.with { $0.image.image = reference(1) })
          return try await time { _ = try await images.imageFsInfo(.init()) }
        })
    }
    return values
  }

  private func remove(_ endpoint: CRIEndpoint, upTo last: Int) async {
    guard last >= 1 else { return }
    _ = try? await endpoint.withClients { _, images in
      for index in 1...last { _ = try? await images.removeImage(.with { $0.image.image = reference(index) }) }
    }
  }

  private func percentile99(_ results: [String: Samples]) -> String {
    endpoints.map { endpoint in
      guard let samples = results[endpoint.name], samples.unsupported == nil, !samples.values.isEmpty else { return "\(endpoint.name) -" }
      let sorted = samples.sorted
      let index = min(sorted.count - 1, max(0, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1))
      return "\(endpoint.name) \(Report.format(sorted[index], "s"))"
    }.joined(separator: ", ")
  }
}
