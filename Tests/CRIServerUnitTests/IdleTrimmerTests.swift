import Foundation
import Testing

@testable import CRIServer

/// When memory is given back: after a lifecycle burst even while polling continues, and every polling
/// period while only polling; never in the middle of a burst or with nothing done.
@Suite struct IdleTrimmerTests {
  @Test func burstsTrimOnceQuietAndPollingTrimsEachPeriod() async throws {
    let trimmer = IdleTrimmer(quietPeriod: .milliseconds(50), pollingPeriod: .milliseconds(400), reclaimQuietPeriod: .seconds(60))
    #expect(trimmer.takeQuiet() == nil, "nothing happened")
    trimmer.activity("RunPodSandbox")
    #expect(trimmer.takeQuiet() == nil, "the burst is still going on")
    // Polling right after the burst does not hold the trim back.
    for _ in 0..<3 {
      try await Task.sleep(for: .milliseconds(30))
      trimmer.activity("ListContainers")
    }
    #expect(trimmer.takeQuiet() == false, "a trim after a burst, too soon for the reclaim")
    #expect(trimmer.takeQuiet() == nil, "trimmed once")
    trimmer.activity("PodSandboxStatus")
    #expect(trimmer.takeQuiet() == nil, "polling alone waits for its period")
    try await Task.sleep(for: .milliseconds(450))
    trimmer.activity("ListPodSandbox")
    #expect(trimmer.takeQuiet() == false, "a polling trim, not after a burst")
    try await Task.sleep(for: .milliseconds(450))
    #expect(trimmer.takeQuiet() == nil, "no call at all since the last trim")
  }

  @Test func theBinaryIsReclaimedOnceTheBurstIsWellOver() async throws {
    let trimmer = IdleTrimmer(quietPeriod: .milliseconds(20), pollingPeriod: .seconds(60), reclaimQuietPeriod: .milliseconds(300))
    trimmer.activity("RunPodSandbox")
    try await Task.sleep(for: .milliseconds(60))
    #expect(trimmer.takeQuiet() == false, "the quick trim after the burst")
    // A pause inside a burst (every worker in a long call) is not long enough for the reclaim.
    trimmer.activity("StartContainer")
    try await Task.sleep(for: .milliseconds(60))
    #expect(trimmer.takeQuiet() == false)
    trimmer.activity("ListContainers")
    #expect(trimmer.takeQuiet() == nil, "polling alone waits for its period")
    try await Task.sleep(for: .milliseconds(350))
    #expect(trimmer.takeQuiet() == true, "the burst is well over")
    #expect(trimmer.takeQuiet() == nil, "reclaimed once")
  }
}
