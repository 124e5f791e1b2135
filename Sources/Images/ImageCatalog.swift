public import CrispCore
public import Store
import Synchronization

/// The image records held in memory, indexed by id and by reference, for the calls kubelet makes all the
/// time (ListImages, ImageStatus, and the image lookups of RunPodSandbox and CreateContainer).
///
/// Reading SQLite for each of them cost more than containerd's whole answer: every lookup fetched the
/// record with its config blob, and the reference table in full. The catalog is rebuilt from the store
/// whenever the store's image change count has moved since it was built, so it is never older than the last
/// write: the count is read before the rows, and a write racing the read only makes the next call rebuild.
final class ImageCatalog: Sendable {
  struct Snapshot: Sendable {
    let changeCount: UInt64
    /// In the store's order (creation time, then id), as ListImages answers.
    let records: [ImageRecord]
    let positionByID: [String: Int]
    let imageIDByReference: [String: String]

    init(changeCount: UInt64, records: [ImageRecord]) {
      self.changeCount = changeCount
      self.records = records
      var positions: [String: Int] = [:]
      var references: [String: String] = [:]
      for (position, record) in records.enumerated() {
        positions[record.id] = position
        for reference in record.references { references[reference.reference] = record.id }
      }
      positionByID = positions
      imageIDByReference = references
    }

    func image(id: String) -> ImageRecord? {
      guard let position = positionByID[id], records.indices.contains(position) else { return nil }
      return records[position]
    }

    func image(reference: String) -> ImageRecord? {
      imageIDByReference[reference].flatMap { image(id: $0) }
    }

    /// Images whose id starts with `prefix`.
    func images(idPrefix prefix: String) -> [ImageRecord] {
      records.filter { $0.id.hasPrefix(prefix) }
    }
  }

  private let store: Store
  private let latest = Mutex<Snapshot?>(nil)

  init(store: Store) {
    self.store = store
  }

  /// The records as of now: the kept snapshot while nothing was written since it was built.
  func current() throws(CrispError) -> Snapshot {
    let count = store.imageChangeCount
    if let kept = latest.withLock({ $0 }), kept.changeCount == count { return kept }
    let snapshot = Snapshot(changeCount: count, records: try store.allImages())
    latest.withLock { kept in
      // Keep the newer of two snapshots built concurrently.
      if (kept?.changeCount ?? 0) <= count { kept = snapshot }
    }
    return snapshot
  }
}
