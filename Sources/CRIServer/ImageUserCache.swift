import Store
import Synchronization

/// Each image's CRI user, parsed from its config once: ListImages answered every call by parsing every
/// image's config JSON again. An image id is the digest of its config, so an entry never goes stale; the
/// cache is emptied when it holds more entries than a node has images, which bounds it after churn.
final class ImageUserCache: Sendable {
  static let limit = 4096
  private let entries = Mutex<[String: CRIImageUser]>([:])

  func user(of record: ImageRecord) -> CRIImageUser {
    if let known = entries.withLock({ $0[record.id] }) { return known }
    let parsed = CRIImageUser(configJSON: record.config)
    entries.withLock { entries in
      if entries.count >= Self.limit { entries.removeAll(keepingCapacity: true) }
      entries[record.id] = parsed
    }
    return parsed
  }
}
