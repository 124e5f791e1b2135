import Glibc

/// The pending events of an inotify instance, read in one go: what the CNI and CDI directory watches both
/// wait for before re-reading their directories.
public enum InotifyEvents {
  /// One event: the watch it came from and what happened.
  public struct Event: Sendable {
    public var watch: Int32
    public var mask: UInt32
  }

  /// Waits up to `timeout` milliseconds (-1: without limit) for events on the non-blocking inotify `fd`,
  /// lets a burst settle (a tool writing several files is one change), then reads every pending event;
  /// nil when none arrived. `buffer` is the caller's, reused across calls.
  public static func next(_ fd: Int32, timeout: Int32, buffer: inout [UInt8]) -> [Event]? {
    var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&descriptor, 1, timeout) > 0 else { return nil }
    usleep(20_000)
    var events: [Event] = []
    while true {
      let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      guard count > 0 else { break }
      var offset = 0
      buffer.withUnsafeBytes { raw in
        while offset + MemoryLayout<inotify_event>.size <= count {
          let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
          events.append(Event(watch: event.wd, mask: event.mask))
          offset += MemoryLayout<inotify_event>.size + Int(event.len)
        }
      }
    }
    return events
  }
}
