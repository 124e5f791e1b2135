import CRIAPI
@testable import CRIServer
import SwiftProtobuf
import Testing

/// Stats lists put together from entries encoded apart decode to the very list the response's own
/// encoding gives, whatever the entries' sizes (one-, two- and three-byte lengths) and count.
@Suite struct EncodedListTests {
  static func pod(_ index: Int, padding: Int) -> Runtime_V1_PodSandboxStats {
    .with { pod in
      pod.attributes.id = "pod-\(index)"
      pod.attributes.metadata = .with {
        $0.name = "name-\(index)"; $0.namespace = "default"; $0.uid = "uid-\(index)"
      }
      pod.attributes.labels = ["app": "web", "pad": String(repeating: "x", count: padding)]
      pod.linux.cpu.usageCoreNanoSeconds.value = UInt64(index) * 1_000_000
      pod.linux.memory.workingSetBytes.value = 4096
      pod.linux.network.defaultInterface = .with {
        $0.name = "eth0"; $0.rxBytes.value = 10; $0.txBytes.value = UInt64(index)
      }
      pod.linux.containers = [
        .with {
          $0.attributes.id = "ctr-\(index)"; $0.memory.rssBytes.value = 99; $0.cpu.usageNanoCores.value = 7
        }
      ]
    }
  }

  @Test func entriesMakeTheResponse() throws {
    // Lengths of one, two, three and four bytes (past 2^21).
    for paddings in [[], [0], [0, 100, 200], [20_000, 0, 300_000], [2_200_000], Array(repeating: 50, count: 110)] {
      let stats = paddings.enumerated().map { Self.pod($0.offset, padding: $0.element) }
      let whole: [UInt8] = try Runtime_V1_ListPodSandboxStatsResponse.with { $0.stats = stats }.serializedBytes()
      let joined = try EncodedList.response(stats.map { EncodedList.entry($0) })
      #expect(joined == whole, "paddings \(paddings)")
      let decoded = try Runtime_V1_ListPodSandboxStatsResponse(serializedBytes: joined)
      #expect(decoded.stats == stats, "paddings \(paddings)")
    }
    // An empty entry is its key and a zero length.
    #expect(try EncodedList.response([EncodedList.entry(Runtime_V1_ContainerStats())]) == [0x0A, 0])
    let containers = (0..<3).map { index in
      Runtime_V1_ContainerStats.with {
        $0.attributes.id = "c\(index)"; $0.writableLayer.usedBytes.value = 1
      }
    }
    let joined = try EncodedList.response(containers.map { EncodedList.entry($0) })
    #expect(try Runtime_V1_ListContainerStatsResponse(serializedBytes: joined).stats == containers)
  }

  @Test func aFailedEntryFailsTheResponse() {
    struct Broken: Error {}
    #expect(throws: Broken.self) { try EncodedList.response([EncodedList.entry(Self.pod(1, padding: 0)), .failure(Broken())]) }
  }
}
