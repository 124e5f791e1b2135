// Fuzz targets over Sources/Runtime: an image's USER against its own /etc/passwd and /etc/group, and OCI
// seccomp profiles named by a pod (localhost profiles).
import CrispCore
import Glibc
import Registry
import OCI

let fuzzTargets: [String: @Sendable ([UInt8]) -> Void] = [
  // `<USER>\0<etc/passwd>\0<etc/group>`; a missing part is a missing file.
  "image-user": { bytes in
    let pieces = fuzzPieces(bytes, limit: 3)
    let user = String(decoding: pieces.first ?? [], as: UTF8.self)
    FuzzFiles.shared.put("rootfs/etc/passwd", pieces.count > 1 ? pieces[1] : nil)
    FuzzFiles.shared.put("rootfs/etc/group", pieces.count > 2 ? pieces[2] : nil)
    _ = try? ImageUser.resolve(user, field: "fuzz", accounts: ImageAccountFiles(rootfs: FuzzFiles.shared.root + "/rootfs"))
    var runtime = ImageConfig.Runtime()
    runtime.user = user
    let image = ImageConfig(config: runtime, rootfs: .init(diffIDs: []))
    var config = ContainerSpec()
    config.linux.securityContext.mergeImageGroups = true
    _ = try? RuntimeManager.resolveUser(config, image: image, rootfs: FuzzFiles.shared.root + "/rootfs")
  },
  "seccomp": { bytes in
    FuzzFiles.shared.put("profile.json", bytes)
    _ = try? SeccompPolicy.load(FuzzFiles.shared.root + "/profile.json", field: "fuzz")
  },
]

/// A scratch directory for targets whose decoder reads files.
final class FuzzFiles: Sendable {
  static let shared = FuzzFiles()
  let root: String

  init() {
    root = fuzzScratchDirectory("crisp-fuzz-files")
    guard mkdir(root + "/rootfs", 0o755) == 0, mkdir(root + "/rootfs/etc", 0o755) == 0 else { fatalError("fuzz: mkdir in \(root)") }
  }

  /// Writes `bytes` to `path` under the root, or removes the file for nil.
  func put(_ path: String, _ bytes: [UInt8]?) {
    let full = root + "/" + path
    guard let bytes else {
      unlink(full)
      return
    }
    // Plain open/write: FileManager's atomic write (temporary file, rename) costs more than the decoder.
    let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { fatalError("fuzz: open \(full)") }
    defer { close(fd) }
    let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else { fatalError("fuzz: write \(full)") }
  }
}
