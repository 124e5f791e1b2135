public import CrispCore
import Glibc
import Registry
public import OCI

/// Extracts one layer blob into a directory and returns the digest of its uncompressed stream (its diff ID).
/// The pull pipeline and `crisp-bench`'s unpack measurement both come through here.
public enum LayerExtraction {
  /// How whiteouts are written: overlayfs devices/xattrs, or the OCI marker files the native snapshotter
  /// interprets later.
  public enum Whiteouts: Sendable { case overlay, markers }

  public static func extract(blob path: String, compression: LayerCompression, into directory: String, whiteouts: Whiteouts, name: String)
    throws(CrispError) -> Digest
  {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CrispError.internalError("\(name): \(SystemError.last("open", path))") }
    defer { close(fd) }
    let source = HashingSource(try layerSource(fd: fd, path: path, compression: compression, name: name))
    var reader = TarReader(source, name: name)
    defer { reader.close() }
    var applier = try LayerApplier(directory: directory, whiteouts: whiteouts == .overlay ? .overlay : .markers, layerName: name)
    defer { applier.close() }
    try applier.apply(&reader)
    try reader.drainSource()
    return Digest(sha256Hex: reader.source.hasher.finalizeHex())
  }
}
