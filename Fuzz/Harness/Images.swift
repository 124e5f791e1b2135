// Fuzz targets over Sources/Images (compiled together with that module's files, so internal types are in
// reach): the tar reader, the gzip and zstd layer streams under it, and image archive import.
import Config
import CrispCore
import Dispatch
import Foundation
import Glibc
import Logging
import Store

let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  "tar": { bytes in readTar(MemorySource(bytes)) },
  "gzip": { bytes in
    guard let source = try? GzipSource(MemorySource(bytes), name: "fuzz.tar.gz") else { return }
    readTar(source)
  },
  "zstd": { bytes in
    guard let source = try? ZstdSource(MemorySource(bytes), name: "fuzz.tar.zst") else { return }
    readTar(source)
  },
  "image-archive": { bytes in ArchiveFixture.shared.importArchive(bytes) },
]

/// Reads every entry and all its content, as layer extraction does, then the rest of the stream.
func readTar<Source: ByteSource>(_ source: Source) {
  var reader = TarReader(source, name: "fuzz")
  defer { reader.close() }
  let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
  defer { buffer.deallocate() }
  do {
    while let entry = try reader.next() {
      // As LayerApplier: only a regular file's content is read; next() skips the rest.
      guard entry.kind == .file else { continue }
      var read: Int64 = 0
      while true {
        let n = try reader.readContent(into: buffer)
        if n == 0 { break }
        read += Int64(n)
      }
      // The entry's declared size is what its content must have been.
      if read != entry.size {
        fatalError("tar: entry \(entry.path) declared \(entry.size) bytes, \(read) were read")
      }
    }
    try reader.drainSource()
  } catch {
    // A refusal is the correct answer to a bad stream; only a trap is a finding.
  }
}

/// An image manager over a throwaway root (native snapshotter, no daemon): each input is imported as an
/// archive file, and what was imported is removed again.
final class ArchiveFixture: Sendable {
  static let shared = ArchiveFixture()
  let root: String
  let store: Store
  let manager: ImageManager

  init() {
    root = fuzzScratchDirectory("crisp-fuzz-archive")
    var config = CrispConfig()
    config.root = root + "/root"
    config.snapshotter = .native
    config.registry.configPath = ""
    do {
      store = try Store(path: root + "/crisp.db")
      manager = try ImageManager(config: config, store: store, logger: Logger(label: "fuzz"))
    } catch {
      fatalError("fuzz: image manager in \(root): \(error)")
    }
  }

  func importArchive(_ bytes: [UInt8]) {
    let path = root + "/archive.tar"
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { fatalError("fuzz: write \(path)") }
    let done = DispatchSemaphore(value: 0)
    let manager = manager, store = store
    Task {
      if let records = try? await manager.importArchive(at: path) {
        for record in records { _ = try? store.removeImage(id: record.id) }
      }
      done.signal()
    }
    done.wait()
  }
}
