import Glibc

/// The counter files of one cgroup, open: a sample reads each from its start again (`pread` at offset 0;
/// the kernel regenerates a cgroup file's content for every read that starts at 0), so a stats pass pays
/// neither the path walk nor the open and close of each file. Opening and closing the files was more than
/// half of a sample's cost (kernfs allocates per open file); reading them is the rest.
///
/// An open file does not keep its cgroup: the directory can still be removed, and the reads then fail
/// (ENODEV), which is how a holder learns to let go.
final class CgroupCounterFiles: @unchecked Sendable {
  /// The files a sample reads, in `Cgroups.counterFileNames` order; -1 where a file could not be opened
  /// (no swap accounting, no pids controller, ...). Never changed after init; closed in deinit.
  let descriptors: [Int32]

  /// Opens `files` (hierarchy-relative directory, file name) below `root`; nil when the first file's
  /// directory does not exist (the cgroup is gone or was never made).
  init?(root: String, relative: String, files: [(directory: String, name: String)]) {
    var directories: [String: Int32] = [:]
    defer { for fd in directories.values where fd >= 0 { close(fd) } }
    var opened: [Int32] = []
    opened.reserveCapacity(files.count)
    for (index, file) in files.enumerated() {
      let directory: Int32
      if let known = directories[file.directory] {
        directory = known
      } else {
        directory = CgroupFileReader.openDirectory("\(root)\(file.directory)\(relative)") ?? -1
        directories[file.directory] = directory
      }
      if index == 0 && directory < 0 { return nil }
      // Never a symlink, never a wait on a FIFO: the files are the kernel's, anything else is skipped.
      opened.append(directory >= 0 ? openat(directory, file.name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) : -1)
    }
    descriptors = opened
  }

  deinit {
    for fd in descriptors where fd >= 0 { close(fd) }
  }

  /// The descriptor of the file at `index`, or nil when it is not open.
  func descriptor(_ index: Int) -> Int32? {
    guard descriptors.indices.contains(index), descriptors[index] >= 0 else { return nil }
    return descriptors[index]
  }
}
