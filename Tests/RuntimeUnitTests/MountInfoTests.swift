import CrispCore
import Testing

/// The one mountinfo parser: every field where the kernel puts it, escapes undone, odd lines skipped.
@Suite struct MountInfoTests {
  @Test func fieldsOptionalTagsAndEscapes() {
    let text = """
      22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
      30 22 0:25 / /sys/fs/cgroup/memory rw,nosuid master:9 - cgroup cgroup rw,memory
      41 22 0:40 / /mnt/with\\040space rw - tmpfs  rw,size=1k
      broken line
      """
    let mounts = MountInfo.parse(text)
    #expect(mounts.map(\.mountPoint) == ["/", "/sys/fs/cgroup/memory", "/mnt/with space"])
    #expect(mounts.first?.optionalFields == ["shared:1"])
    #expect(mounts.dropFirst().first?.fsType == "cgroup")
    #expect(mounts.dropFirst().first?.superOptions == "rw,memory")
    // A mount made with an empty source keeps its place: the fields after it are still where they belong.
    #expect(mounts.last?.source == "")
    #expect(mounts.last?.superOptions == "rw,size=1k")
  }

  @Test func truncatedEscapesAreKeptAsText() {
    #expect(MountInfo.unescape("/a\\04") == "/a\\04")
    #expect(MountInfo.unescape("/a\\134b") == "/a\\b")
  }
}
