import CRIAPI
import Foundation
import GRPCCore
import Synchronization
import Testing
import TestSupport

/// GetContainerEvents end to end: every subscriber sees each sandbox's and container's lifecycle in order,
/// with the pod's status attached, including an exit the container made by itself.
@Suite(.serialized) struct EventsTests {
  final class Collected: Sendable {
    let events = Mutex<[Runtime_V1_ContainerEventResponse]>([])
    func of(_ id: String) -> [Runtime_V1_ContainerEventType] { events.withLock { $0.filter { $0.containerID == id }.map(\.containerEventType) } }
  }

  static func subscribe(_ pods: PodHarness, into collected: Collected) -> Task<Void, Never> {
    Task {
      _ = try? await pods.daemon.withClients { runtime, _ in
        try await runtime.getContainerEvents(.init()) { response in
          for try await message in response.messages { collected.events.withLock { $0.append(message) } }
        }
      }
    }
  }

  static func waitFor(_ collected: Collected, _ id: String, count: Int) async throws {
    for _ in 0..<200 where collected.of(id).count < count { try await Task.sleep(for: .milliseconds(50)) }
  }

  @Test func subscribersSeeTheLifecycleInOrder() async throws {
    try await PodHarness.with { pods in
      let first = Collected(), second = Collected()
      let subscriptions = [Self.subscribe(pods, into: first), Self.subscribe(pods, into: second)]
      defer { for subscription in subscriptions { subscription.cancel() } }
      // A stream is surely open once it has carried an event: make throwaway pods until both have seen one
      // (a fixed sleep was too short on a loaded machine, and the pod's CREATED was missed).
      for attempt in 0..<10 {
        let warmup = try await pods.runPod(pods.podConfig("warmup-\(attempt)"))
        try await pods.runtime { runtime in
          _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = warmup })
          _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = warmup })
        }
        try await Self.waitFor(first, warmup, count: 1)
        try await Self.waitFor(second, warmup, count: 1)
        if !first.of(warmup).isEmpty && !second.of(warmup).isEmpty { break }
      }

      let podConfig = pods.podConfig("events")
      let pod = try await pods.runPod(podConfig)
      // A container that ends by itself: its STOPPED comes from the exit watcher.
      let quick = try await pods.runContainer(pod, podConfig, pods.containerConfig("quick", command: ["/bin/sh", "-c", "exit 3"]))
      _ = try await pods.waitForExit(quick)
      try await Self.waitFor(first, quick, count: 3)
      let sleeper = try await pods.runContainer(pod, podConfig, pods.containerConfig("sleeper", command: ["/bin/sleep", "1000"]))
      try await pods.runtime { runtime in
        _ = try await runtime.stopContainer(
          .with {
            $0.containerID = sleeper; $0.timeout = 1
          })
        _ = try await runtime.removeContainer(.with { $0.containerID = sleeper })
        _ = try await runtime.removeContainer(.with { $0.containerID = quick })
        _ = try await runtime.stopPodSandbox(.with { $0.podSandboxID = pod })
        _ = try await runtime.removePodSandbox(.with { $0.podSandboxID = pod })
      }
      let lifecycle: [Runtime_V1_ContainerEventType] = [
        .containerCreatedEvent, .containerStartedEvent, .containerStoppedEvent, .containerDeletedEvent,
      ]
      for collected in [first, second] {
        for id in [pod, quick, sleeper] {
          try await Self.waitFor(collected, id, count: 4)
          #expect(collected.of(id) == lifecycle, "\(id): \(collected.of(id))")
        }
      }
      let started = first.events.withLock { $0.first { $0.containerID == sleeper && $0.containerEventType == .containerStartedEvent } }
      #expect(started?.podSandboxStatus.id == pod)
      #expect(started?.containersStatuses.contains { $0.id == sleeper && $0.state == .containerRunning } == true)
      #expect((started?.createdAt ?? 0) > 0)
    }
  }
}
