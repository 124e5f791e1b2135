// Fuzz target over Sources/Registry: image references as kubelet, crictl or an archive's annotations spell
// them.
import CrispCore
import OCI

let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  "reference": { bytes in
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? Digest(parsing: text)
    guard let reference = try? ImageReference(parsing: text) else { return }
    // A parsed reference is normal: parsing its own spelling gives it back.
    guard let again = try? ImageReference(parsing: reference.description), again == reference else {
      fatalError("reference \"\(text)\" parsed to \"\(reference)\", which does not parse back to itself")
    }
    _ = reference.manifestReference
    _ = reference.taggedName
  }
]
