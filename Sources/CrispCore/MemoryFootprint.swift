import CLinux
import Glibc

/// Keeps the daemon's resident memory to the code it actually runs.
///
/// The kernel maps file pages around every page fault ("fault-around", 64 KiB at a time), so a large binary
/// whose start-up code is spread over its text ends up with most of its code resident though little of it
/// ever runs again. Marking the read-only file mappings random-access turns that off, and dropping their page
/// table entries once start-up is done lets only the code the daemon keeps running come back. Nothing is
/// lost: these pages stay in the page cache and fault back in on use. Only mappings with no private copies
/// are touched (relocated read-only data holds the dynamic linker's writes and must stay).
public enum MemoryFootprint {
  /// With `executableOnly`, only the daemon's own binary is touched: it is never remapped while the daemon
  /// runs, whereas a library being loaded at that moment (the resolver's modules, say) briefly has a
  /// read-only mapping that the loader then replaces with data pages, which must never be dropped.
  ///
  /// With `reclaim`, the binary's mappings are handed to the kernel's reclaim (MADV_PAGEOUT) instead:
  /// its pages leave the page cache too, so a later fault reads back only the page it needs. Dropping
  /// page table entries alone is not enough: recent kernels map up to 64 KiB around every fault from the
  /// page cache whatever the advice, so the code of a burst kept coming back with every polling call
  /// near it. The writable data mapping is included: most of it is read-only data the linker placed among
  /// writable sections (37 MB, of which start-up and a burst touch several). Reclaim never loses a page
  /// the process wrote: clean file pages are dropped and read back from the file, written (copied) pages
  /// go to swap where there is swap and stay otherwise, as under memory pressure.
  public static func trimReadOnlyFileMappings(executableOnly: Bool = false, reclaim: Bool = false) {
    guard let smaps = try? FilePath.readText("/proc/self/smaps") else { return }
    var executable: String?
    if executableOnly {
      var buffer = [CChar](repeating: 0, count: 4096)
      let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
      guard length > 0 else { return }
      executable = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    var candidate: (start: UInt, end: UInt)?
    var clean = true
    func flush() {
      if let range = candidate, clean, let address = UnsafeMutableRawPointer(bitPattern: range.start),
        let length = Int(exactly: range.end - range.start)
      {
        _ = crisp_madvise(address, length, crisp_madv_random())
        // Reclaim where the kernel has it; else (or if it refuses) only the page table entries go.
        if !(reclaim && executable != nil && crisp_madv_pageout() >= 0 && crisp_madvise(address, length, crisp_madv_pageout()) == 0) {
          _ = crisp_madvise(address, length, crisp_madv_dontneed())
        }
      }
      candidate = nil
      clean = true
    }
    for line in smaps.split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard let first = fields.first else { continue }
      if first.contains("-"), fields.count >= 5, let separator = first.firstIndex(of: "-") {
        // A mapping header: "start-end perms offset dev inode [path]".
        flush()
        let permissions = fields[1]
        guard fields.count >= 6, fields[5].hasPrefix("/"), executable == nil || String(fields[5]) == executable,
          let start = UInt(first[..<separator], radix: 16), let end = UInt(first[first.index(after: separator)...], radix: 16), end > start
        else { continue }
        if reclaim, executable != nil, permissions == "rw-p" {
          if let address = UnsafeMutableRawPointer(bitPattern: start), let length = Int(exactly: end - start), crisp_madv_pageout() >= 0 {
            _ = crisp_madvise(address, length, crisp_madv_pageout())
          }
          continue
        }
        guard permissions.hasPrefix("r"), !permissions.contains("w"), permissions.hasSuffix("p") else { continue }
        candidate = (start, end)
      } else if candidate != nil, first == "Anonymous:" || first == "Private_Dirty:" || first == "Swap:" {
        if fields.count > 1, fields[1] != "0" { clean = false }
      }
    }
    flush()
  }

  /// Returns the allocator's free memory (every arena's) to the kernel.
  public static func releaseFreeHeap() {
    _ = crisp_malloc_trim()
  }

  /// Caps the allocator's heaps at `count`. glibc gives threads heaps of their own, up to eight per core;
  /// the daemon runs short blocking work on threads of its own, so over a day most heaps hold a few live
  /// objects each and the free memory between them cannot be returned: a small cap keeps resident memory
  /// close to what is in use. Threads made before the call keep the heap they have.
  public static func limitHeapArenas(_ count: Int32) {
    _ = crisp_limit_malloc_arenas(count)
  }
}
