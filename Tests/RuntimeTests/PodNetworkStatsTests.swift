import CRIAPI
import Foundation
import PodNetwork
import Testing
import TestSupport

/// Pod network stats read from the host end of the pod's veth (one link dump in the host namespace, rx and
/// tx swapped) agree with the counters read inside the pod's namespace by another tool (iproute2), and are
/// read at call time: traffic sent after the first call shows in the next one.
@Suite(.serialized) struct PodNetworkStatsTests {
  struct Counters: Equatable {
    var rxBytes: UInt64
    var txBytes: UInt64
    var rxErrors: UInt64
    var txErrors: UInt64
  }

  /// eth0's counters as `ip -s -j link` prints them inside the namespace pinned at `netns`.
  static func inside(_ netns: String) throws -> Counters {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
    process.arguments = ["--net=" + netns, "ip", "-s", "-j", "link", "show", "dev", "eth0"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let links = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    let stats = try #require(links.first?["stats64"] as? [String: [String: Any]])
    func number(_ direction: String, _ key: String) throws -> UInt64 {
      try #require((stats[direction]?[key] as? NSNumber)?.uint64Value, "\(direction).\(key) in \(stats)")
    }
    return Counters(
      rxBytes: try number("rx", "bytes"), txBytes: try number("tx", "bytes"), rxErrors: try number("rx", "errors"),
      txErrors: try number("tx", "errors"))
  }

  /// The name, in the host's namespace, of the host end of the veth whose pod end is eth0 in `netns`
  /// (eth0's `link_index` as iproute2 prints it inside, matched against the host's ifindexes in sysfs).
  static func hostPeer(_ netns: String) throws -> String {
    let output = try TestEnvironment.shell("nsenter --net=\(netns) ip -j link show dev eth0")
    let links = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]])
    let peerIndex = try #require((links.first?["link_index"] as? NSNumber)?.intValue, "\(output)")
    for name in try FileManager.default.contentsOfDirectory(atPath: "/sys/class/net") {
      let text = try? String(contentsOfFile: "/sys/class/net/\(name)/ifindex", encoding: .utf8)
      if Int(text?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") == peerIndex { return name }
    }
    throw HarnessError("no host link has ifindex \(peerIndex)")
  }

  /// The pod end's counters as the host end's own sysfs counters give them: what the host end sent, the pod
  /// end received.
  static func hostEnd(_ veth: String) throws -> Counters {
    func value(_ key: String) throws -> UInt64 {
      let text = try String(contentsOfFile: "/sys/class/net/\(veth)/statistics/\(key)", encoding: .utf8)
      return try #require(UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)), "\(key): \(text)")
    }
    return Counters(
      rxBytes: try value("tx_bytes"), txBytes: try value("rx_bytes"), rxErrors: try value("tx_errors"), txErrors: try value("rx_errors"))
  }

  static func counters(_ usage: Runtime_V1_NetworkInterfaceUsage) -> Counters {
    Counters(rxBytes: usage.rxBytes.value, txBytes: usage.txBytes.value, rxErrors: usage.rxErrors.value, txErrors: usage.txErrors.value)
  }

  /// `value` lies between two readings taken around it (the counters only grow).
  static func between(_ before: Counters, _ value: Counters, _ after: Counters) -> Bool {
    before.rxBytes <= value.rxBytes && value.rxBytes <= after.rxBytes && before.txBytes <= value.txBytes && value.txBytes <= after.txBytes
      && before.rxErrors <= value.rxErrors && value.rxErrors <= after.rxErrors && before.txErrors <= value.txErrors
      && value.txErrors <= after.txErrors
  }

  @Test func hostSideCountersMatchTheNamespace() async throws {
    try await PodHarness.with { pods in
      let podConfig = pods.podConfig("netstats", labels: ["app": "netstats"])
      let pod = try await pods.runPod(podConfig)
      let idle = try await pods.runContainer(pod, podConfig, pods.containerConfig("idle", command: ["/bin/sleep", "1000"]))
      let info = try await pods.runtime {
        try await $0.podSandboxStatus(
          .with {
            $0.podSandboxID = pod; $0.verbose = true
          }
        ).info["info"]
      }
      let text = try #require(info)
      let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
      let netns = try #require(object["netns"] as? String)
      _ = try await pods.exec(idle, ["/bin/ping", "-c", "2", "-W", "2", pods.network.gateway])

      // The reader itself, in this (the host's) namespace: the first read learns the pod's interfaces
      // inside its namespace, the later ones come from the host's link dump alone.
      let reader = PodInterfaceCounters()
      let learnt = try await reader.read(sandboxID: pod, netnsPath: netns)
      #expect(learnt.map(\.name) == ["eth0"], "loopback is left out, the pod-side name is kept")
      // The daemon's own stats, first call (it learns too).
      let first = try await pods.runtime { try await $0.podSandboxStats(.with { $0.podSandboxID = pod }).stats.linux.network }
      #expect(first.defaultInterface.name == "eth0")

      // More traffic, then host-side reads bracketed by reads inside the namespace.
      let ping = try await pods.exec(idle, ["/bin/ping", "-c", "3", "-s", "1000", "-i", "0.2", "-W", "2", pods.network.gateway])
      #expect(ping.exitCode == 0, "\(String(decoding: ping.stderr, as: UTF8.self))")
      // One-way traffic from the host to the pod (UDP to a closed port: what the pod answers is a short,
      // rate-limited ICMP error), so that received and sent differ by far more than any stray packet: rx and
      // tx the wrong way round fail.
      let address = try await pods.runtime { try await $0.podSandboxStatus(.with { $0.podSandboxID = pod }).status.network.ip }
      _ = try TestEnvironment.shell(
        "exec /bin/bash -c 'for i in $(seq 40); do head -c 1000 /dev/zero > /dev/udp/\(address)/9; done'")
      let before = try Self.inside(netns)
      #expect(before.rxBytes > before.txBytes + 20_000, "\(before)")
      let fromHost = try #require(try await reader.read(sandboxID: pod, netnsPath: netns).first)
      let stats = try await pods.runtime { try await $0.podSandboxStats(.with { $0.podSandboxID = pod }).stats.linux.network }
      let listed = try await pods.runtime { try await $0.listPodSandboxStats(.with { $0.filter.id = pod }).stats }
      let after = try Self.inside(netns)

      let host = Counters(rxBytes: fromHost.rxBytes, txBytes: fromHost.txBytes, rxErrors: fromHost.rxErrors, txErrors: fromHost.txErrors)
      #expect(fromHost.name == "eth0")
      #expect(Self.between(before, host, after), "inside \(before) / host \(host) / inside \(after)")
      #expect(stats.defaultInterface.name == "eth0")
      #expect(stats.interfaces.map(\.name) == ["eth0"])
      #expect(Self.between(before, Self.counters(stats.defaultInterface), after), "\(stats.defaultInterface) vs \(before)…\(after)")
      let listedNetwork = try #require(listed.first?.linux.network)
      #expect(Self.between(before, Self.counters(listedNetwork.defaultInterface), after))
      // Not a remembered answer: three pings of 1000 bytes each way since the first call.
      #expect(stats.defaultInterface.txBytes.value >= first.defaultInterface.txBytes.value + 3000, "\(first) then \(stats)")
      #expect(stats.defaultInterface.rxBytes.value >= first.defaultInterface.rxBytes.value + 3000, "\(first) then \(stats)")
      // The pod is silent now: both readers give the very same numbers.
      if before == after { #expect(host == before) }

      // The host path: given a namespace path that cannot be entered, the reader still answers, from the
      // host's link dump alone, with the host end's own counters swapped (read apart, from sysfs). A reader
      // that entered the namespace would fail here.
      let veth = try Self.hostPeer(netns)
      let hostBefore = try Self.hostEnd(veth)
      let blind = try #require(try await reader.read(sandboxID: pod, netnsPath: pods.daemon.directory + "/no-such-netns").first)
      let hostAfter = try Self.hostEnd(veth)
      let blindCounters = Counters(rxBytes: blind.rxBytes, txBytes: blind.txBytes, rxErrors: blind.rxErrors, txErrors: blind.txErrors)
      #expect(blind.name == "eth0")
      #expect(Self.between(hostBefore, blindCounters, hostAfter), "sysfs \(hostBefore) / read \(blindCounters) / sysfs \(hostAfter)")
      #expect(blindCounters.rxBytes > blindCounters.txBytes + 20_000, "\(blindCounters)")

      // While the host's links stay the same, a pass takes the counters alone and puts them on the links
      // last described; a link that comes or goes makes the next pass describe them again.
      let described = reader.linkDescriptions
      let again = try #require(try await reader.read(sandboxID: pod, netnsPath: netns).first)
      #expect(reader.linkDescriptions == described, "counters alone while nothing changed")
      #expect(again.name == "eth0" && again.rxBytes >= blind.rxBytes && again.txBytes >= blind.txBytes)
      let extra = "crispt\(UInt32.random(in: 0..<100_000))"
      _ = try TestEnvironment.shell("ip link add \(extra) type veth peer name \(extra)p")
      defer { _ = try? TestEnvironment.shell("ip link delete \(extra)") }
      let afterAdd = try #require(try await reader.read(sandboxID: pod, netnsPath: pods.daemon.directory + "/no-such-netns").first)
      #expect(reader.linkDescriptions == described + 1, "a new link: described again")
      let hostNow = try Self.hostEnd(veth)
      #expect(afterAdd.rxBytes <= hostNow.rxBytes && afterAdd.txBytes <= hostNow.txBytes && afterAdd.rxBytes >= blind.rxBytes)
      _ = try await reader.read(sandboxID: pod, netnsPath: netns)
      #expect(reader.linkDescriptions == described + 1)

      // A stopped pod is forgotten; its stats are no longer listed.
      _ = try await pods.runtime { try await $0.stopPodSandbox(.with { $0.podSandboxID = pod }) }
      #expect(try await pods.runtime { try await $0.listPodSandboxStats(.with { $0.filter.id = pod }).stats }.isEmpty)
    }
  }
}
