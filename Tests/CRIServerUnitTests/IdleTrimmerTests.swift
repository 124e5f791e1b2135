import Foundation
import Testing

@testable import CRIServer

/// When memory is given back: after a lifecycle burst even while polling continues, and every polling
/// period while only polling; never in the middle of a burst or with nothing done; the binary's pages go to
/// reclaim only once a burst is well over. Time is stepped, not slept, so a loaded machine cannot move it.
@Suite struct IdleTrimmerTests {
  @Test func burstsTrimOnceQuietAndPollingTrimsEachPeriod() {
    let start = ContinuousClock.now
    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }
    let trimmer = IdleTrimmer(quietPeriod: .milliseconds(50), pollingPeriod: .milliseconds(400), reclaimQuietPeriod: .seconds(60))
    #expect(trimmer.takeQuiet(now: at(0)) == nil, "nothing happened")
    trimmer.activity("RunPodSandbox", now: at(0))
    #expect(trimmer.takeQuiet(now: at(10)) == nil, "the burst is still going on")
    // Polling right after the burst does not hold the trim back.
    for step in 1...3 { trimmer.activity("ListContainers", now: at(30 * step)) }
    #expect(trimmer.takeQuiet(now: at(95)) == false, "a trim after a burst, too soon for the reclaim")
    #expect(trimmer.takeQuiet(now: at(96)) == nil, "trimmed once")
    trimmer.activity("PodSandboxStatus", now: at(100))
    #expect(trimmer.takeQuiet(now: at(110)) == nil, "polling alone waits for its period")
    trimmer.activity("ListPodSandbox", now: at(550))
    #expect(trimmer.takeQuiet(now: at(551)) == false, "a polling trim, not after a burst")
    #expect(trimmer.takeQuiet(now: at(1_100)) == nil, "no call at all since the last trim")
  }

  @Test func theBinaryIsReclaimedOnceTheBurstIsWellOver() {
    let start = ContinuousClock.now
    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }
    let trimmer = IdleTrimmer(quietPeriod: .milliseconds(20), pollingPeriod: .seconds(60), reclaimQuietPeriod: .milliseconds(300))
    trimmer.activity("RunPodSandbox", now: at(0))
    #expect(trimmer.takeQuiet(now: at(60)) == false, "the quick trim after the burst")
    // A pause inside a burst (every worker in a long call) is not long enough for the reclaim.
    trimmer.activity("StartContainer", now: at(100))
    #expect(trimmer.takeQuiet(now: at(160)) == false)
    trimmer.activity("ListContainers", now: at(170))
    #expect(trimmer.takeQuiet(now: at(180)) == nil, "polling alone waits for its period")
    #expect(trimmer.takeQuiet(now: at(450)) == true, "the burst is well over")
    #expect(trimmer.takeQuiet(now: at(460)) == nil, "reclaimed once")
  }
}
