public import CrispCore
import Crypto
import Foundation

/// Content-addressed blobs (manifests, configs, layers) under `<root>/content/blobs/sha256/<hex>`.
///
/// A blob becomes visible only once complete and verified: downloads stream into `<root>/content/ingest/`,
/// are checked against the expected size and sha256, and are renamed into place. A daemon killed mid-download
/// leaves only an ingest file, which the next start removes. Blobs are immutable once committed.
public final class ContentStore: Sendable {
  public let root: String
  private let blobs: String
  private let ingest: String
  /// Where each committed blob's usage is recorded and each deleted one's dropped (nil: not accounted, as
  /// for crisp-bench's scratch stores).
  private let ledger: Store?

  public init(root: String, ledger: Store? = nil) throws(CrispError) {
    self.root = root
    self.ledger = ledger
    blobs = root + "/blobs/sha256"
    ingest = root + "/ingest"
    do {
      try FilePath.makeDirectories(blobs, mode: 0o700)
      try FilePath.makeDirectories(ingest, mode: 0o700)
    } catch {
      throw CrispError.internalError("content store \(root): \(error)")
    }
  }

  /// Whether `hex` is a sha256 digest's hex part: exactly 64 lowercase hex digits. Every digest that becomes
  /// a path here passes this first, so no name from a manifest, a registry or an archive (`../x`) can
  /// reach outside the store.
  public static func isSHA256Hex(_ hex: String) -> Bool {
    hex.utf8.count == 64 && hex.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
  }

  private static func checked(_ hex: String) throws(CrispError) -> String {
    guard isSHA256Hex(hex) else {
      throw CrispError.invalidArgument("content store: \"\(hex.prefix(200))\" is not a sha256 digest (64 lowercase hex digits)")
    }
    return hex
  }

  /// Where the blob with this sha256 hex digest lives (whether or not it exists).
  public func path(sha256 hex: String) throws(CrispError) -> String { "\(blobs)/\(try Self.checked(hex))" }

  /// Whether the blob is committed; false for anything that is not a sha256 hex digest.
  public func contains(sha256 hex: String) -> Bool {
    guard Self.isSHA256Hex(hex) else { return false }
    return FilePath.exists("\(blobs)/\(hex)")
  }

  /// The size of a committed blob, or nil (also for anything that is not a sha256 hex digest).
  public func size(sha256 hex: String) -> Int64? {
    guard Self.isSHA256Hex(hex) else { return nil }
    var info = stat()
    guard stat("\(blobs)/\(hex)", &info) == 0 else { return nil }
    return Int64(info.st_size)
  }

  /// Reads a small committed blob (a manifest or config) whole.
  public func read(sha256 hex: String, limit: Int = 4 << 20) throws(CrispError) -> [UInt8]? {
    let path = try path(sha256: hex)
    do {
      return try FilePath.read(path, limit: limit)
    } catch {
      throw CrispError.internalError("content store: read sha256:\(hex): \(error)")
    }
  }

  /// Writes a small blob whose bytes are already in memory, verifying them against `hex` when given.
  /// Returns the sha256 hex digest.
  @discardableResult
  public func write(_ bytes: [UInt8], expectedSHA256 hex: String? = nil) throws(CrispError) -> String {
    if let hex { _ = try Self.checked(hex) }
    let actual = SHA256.hash(data: bytes).hexString
    if let hex, hex != actual {
      throw CrispError.invalidArgument("content digest mismatch: expected sha256:\(hex), got sha256:\(actual)")
    }
    if contains(sha256: actual) { return actual }
    let writer = try beginIngest(expectedSHA256: actual, expectedSize: Int64(bytes.count))
    do {
      try writer.append(bytes)
      try writer.commit()
    } catch {
      writer.abort()
      throw error
    }
    return actual
  }

  /// Starts a download of one blob. The caller appends bytes and then commits (verifying) or aborts.
  public func beginIngest(expectedSHA256 hex: String?, expectedSize: Int64?) throws(CrispError) -> IngestWriter {
    if let hex { _ = try Self.checked(hex) }
    if let expectedSize, expectedSize < 0 {
      throw CrispError.invalidArgument("content store: expected size \(expectedSize) is negative")
    }
    let temp = "\(ingest)/\(hex ?? "unknown")-\(UInt64.random(in: 0..<UInt64.max))"
    let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw CrispError.internalError("content store: \(SystemError.last("open", temp))") }
    return IngestWriter(fd: fd, path: temp, store: self, expectedSHA256: hex, expectedSize: expectedSize)
  }

  /// Moves a verified ingest file into place.
  fileprivate func commit(ingestPath: String, sha256 hex: String) throws(CrispError) {
    let target = try path(sha256: hex)
    guard rename(ingestPath, target) == 0 else {
      let error = SystemError.last("rename", "\(ingestPath) -> \(target)")
      unlink(ingestPath)
      throw CrispError.internalError("content store: \(error)")
    }
    AtomicFile.syncDirectory(blobs)
    if let ledger, let usage = measure(sha256: hex) { try ledger.recordBlob(hex, usage) }
  }

  /// The bytes (allocated blocks, as `du` counts them) and the one inode a committed blob uses; nil when it
  /// is not there.
  public func measure(sha256 hex: String) -> UsageTotals? {
    guard Self.isSHA256Hex(hex) else { return nil }
    var info = stat()
    guard lstat("\(blobs)/\(hex)", &info) == 0 else { return nil }
    let (bytes, overflow) = Int64(info.st_blocks).multipliedReportingOverflow(by: 512)
    return UsageTotals(bytes: overflow ? Int64.max : bytes, inodes: 1)
  }

  /// The usage of the store's own directories (the root, `blobs`, `blobs/sha256`, `ingest`), which grow
  /// with the number of entries, and of the partial downloads in `ingest`: four `lstat`s and one listing of a
  /// directory that holds one file per download in progress, not a walk.
  public func directoryUsage() -> UsageTotals {
    var total = UsageTotals()
    for path in [root, root + "/blobs", blobs, ingest] {
      var info = stat()
      guard lstat(path, &info) == 0 else { continue }
      total.add(Self.usage(of: info))
    }
    total.add(ingestUsage())
    return total
  }

  /// At most this many ingest files are counted: downloads in progress are bounded by
  /// `max_concurrent_downloads` per pull, so more means leftovers, and the listing stays cheap whatever
  /// lies there.
  public static let ingestCountLimit = 1024

  /// Bytes and inodes of the partial downloads under `ingest` (they are on the image filesystem while the
  /// pull runs: a pull of a large image must show in ImageFsInfo before it completes). One `lstat` per file,
  /// for at most ``ingestCountLimit`` files.
  public func ingestUsage() -> UsageTotals {
    var total = UsageTotals()
    guard let directory = opendir(ingest) else { return total }
    defer { closedir(directory) }
    let fd = dirfd(directory)
    var counted = 0
    while counted < Self.ingestCountLimit, let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [CChar] in raw.prefix { $0 != 0 }.map { CChar(bitPattern: $0) } + [0] }
      if name == [46, 0] || name == [46, 46, 0] { continue }
      var info = stat()
      // Committed or abandoned since it was listed: it is not a partial download any more.
      guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
      counted += 1
      total.add(Self.usage(of: info))
    }
    return total
  }

  private static func usage(of info: stat) -> UsageTotals {
    let (bytes, overflow) = Int64(info.st_blocks).multipliedReportingOverflow(by: 512)
    return UsageTotals(bytes: overflow ? Int64.max : bytes, inodes: 1)
  }

  /// Deletes a blob; a missing blob is not an error.
  public func delete(sha256 hex: String) throws(CrispError) {
    let path = try path(sha256: hex)
    do {
      try FilePath.remove(path)
    } catch {
      throw CrispError.internalError("content store: \(error)")
    }
    try ledger?.forgetBlob(hex)
  }

  /// Brings the recorded blob usage in line with the blobs on disk: records blobs committed without a record
  /// (a store from before accounting, or a daemon killed between the rename and the record) and drops
  /// records of blobs no longer there. A directory listing and one `lstat` per unrecorded blob, recorded
  /// ``reconcileBatch`` to a transaction; the caller holds off garbage collection meanwhile. Returns how many
  /// records it added and dropped.
  public func reconcileUsage() throws(CrispError) -> (added: Int, dropped: Int) {
    guard let ledger else { return (0, 0) }
    // Recorded first, then the directory: a blob committed in between was recorded by its commit and is
    // recorded again here with the same numbers, never dropped.
    let recorded = try ledger.accountedBlobs()
    let present = Set(allBlobs())
    let added = try Self.inBatches(present.subtracting(recorded).compactMap { hex in measure(sha256: hex).map { (digest: hex, usage: $0) } }) {
      batch throws(CrispError) in try ledger.recordBlobs(batch)
    }
    let dropped = try Self.inBatches(recorded.subtracting(present).filter { !contains(sha256: $0) }) { batch throws(CrispError) in
      try ledger.forgetBlobs(batch)
    }
    return (added, dropped)
  }

  /// Hands `items` to `write` ``reconcileBatch`` at a time; returns how many were written.
  private static func inBatches<Item>(_ items: [Item], _ write: ([Item]) throws(CrispError) -> Void) throws(CrispError) -> Int {
    var start = 0
    while start < items.count {
      let end = min(start + reconcileBatch, items.count)
      try write(Array(items[start..<end]))
      start = end
    }
    return items.count
  }

  /// Blobs recorded (or dropped) per transaction by ``reconcileUsage()``: a store from before accounting
  /// with thousands of blobs takes a few transactions, not thousands, while garbage collection waits.
  public static let reconcileBatch = 256

  /// Every committed blob's hex digest (names that are not one are not blobs and are left alone).
  public func allBlobs() -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: blobs)) ?? []).filter(Self.isSHA256Hex)
  }

  /// Removes ingest files left by a daemon that died mid-download. Called once at start-up, before any pull.
  @discardableResult
  public func removeStaleIngests() -> Int {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: ingest)) ?? []
    for name in names { unlink("\(ingest)/\(name)") }
    return names.count
  }

  /// Ingest files present right now (tests check that none are left behind).
  public func ingestFiles() -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: ingest)) ?? []
  }
}

/// One blob being written: hashes as it goes, verifies size and digest on commit.
public final class IngestWriter: @unchecked Sendable {
  // Used by one task at a time (the download that owns it); the class exists to own the fd.
  private let fd: Int32
  public let path: String
  private let store: ContentStore
  private let expectedSHA256: String?
  private let expectedSize: Int64?
  private var hasher = SHA256()
  public private(set) var written: Int64 = 0
  private var closed = false

  fileprivate init(fd: Int32, path: String, store: ContentStore, expectedSHA256: String?, expectedSize: Int64?) {
    self.fd = fd
    self.path = path
    self.store = store
    self.expectedSHA256 = expectedSHA256
    self.expectedSize = expectedSize
  }

  deinit {
    if !closed {
      close(fd)
      unlink(path)
    }
  }

  public func append(_ bytes: UnsafeRawBufferPointer) throws(CrispError) {
    guard !bytes.isEmpty, let base = bytes.baseAddress else { return }
    if let expectedSize, Int64(bytes.count) > expectedSize - written {
      throw CrispError.invalidArgument("content size mismatch: received more than the expected \(expectedSize) bytes")
    }
    hasher.update(bufferPointer: bytes)
    var offset = 0
    while offset < bytes.count {
      let n = retryingOnInterrupt { Glibc.write(fd, base.advanced(by: offset), bytes.count - offset) }
      guard n > 0 else { throw CrispError.internalError("content store: \(SystemError.last("write", path))") }
      offset += n
    }
    written += Int64(bytes.count)
  }

  public func append(_ bytes: [UInt8]) throws(CrispError) {
    do {
      try bytes.withUnsafeBytes { buffer in try append(buffer) }
    } catch let error as CrispError {
      throw error
    } catch {
      throw CrispError.internalError("content store: \(error)")
    }
  }

  /// Verifies and moves the blob into place; returns its sha256 hex digest.
  @discardableResult
  public func commit() throws(CrispError) -> String {
    let actual = hasher.finalize().hexString
    if let expectedSize, written != expectedSize {
      abort()
      throw CrispError.invalidArgument("content size mismatch: expected \(expectedSize) bytes, received \(written)")
    }
    if let expectedSHA256, expectedSHA256 != actual {
      abort()
      throw CrispError.invalidArgument("content digest mismatch: expected sha256:\(expectedSHA256), got sha256:\(actual)")
    }
    guard fsync(fd) == 0 else {
      abort()
      throw CrispError.internalError("content store: \(SystemError.last("fsync", path))")
    }
    close(fd)
    closed = true
    try store.commit(ingestPath: path, sha256: actual)
    return actual
  }

  /// Drops the partial download.
  public func abort() {
    guard !closed else { return }
    close(fd)
    unlink(path)
    closed = true
  }
}

/// sha256 for other modules, so they need not depend on swift-crypto themselves.
public struct SHA256Stream: Sendable {
  private var hasher = SHA256()

  public init() {}

  public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
  public mutating func update(_ bytes: [UInt8]) { hasher.update(data: bytes) }

  /// The lowercase hex digest; the stream is finished after this.
  public func finalizeHex() -> String { hasher.finalize().hexString }

  public static func hex(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).hexString }
}

extension SHA256.Digest {
  var hexString: String {
    var text = ""
    text.reserveCapacity(64)
    for byte in self {
      text.append(Self.hexDigits[Int(byte >> 4)])
      text.append(Self.hexDigits[Int(byte & 0x0f)])
    }
    return text
  }

  private static let hexDigits: [Character] = Array("0123456789abcdef")
}
