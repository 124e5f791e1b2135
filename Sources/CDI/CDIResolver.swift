public import CrispCore
import Glibc
import OCI

/// Turns the CDI devices a container asks for — CRI `CDI_devices` and `cdi.k8s.io/<key>` annotations — into
/// the edits to its spec. Every failure is the caller's to report: a bad name is INVALID_ARGUMENT naming
/// the field; a device no spec defines is INVALID_ARGUMENT naming the device (and what its kind's specs do
/// define); a device whose spec file was refused, conflicts, needs edits crisp cannot make, or names a host
/// node or mount source that is not there is FAILED_PRECONDITION naming the device and the spec file.
public enum CDIResolver {
  /// Annotations with this prefix carry comma-separated device names (the CDI spec's annotation form).
  public static let annotationPrefix = "cdi.k8s.io/"
  /// Devices one container may ask for.
  public static let maxDevices = 128

  /// The requested names in order — `CDI_devices`, then the annotations by key — without repeats.
  public static func requestedNames(cdiDevices: [String], annotations: [String: String]) throws(CrispError) -> [CDIName] {
    var names: [CDIName] = []
    func add(_ text: String, field: String) throws(CrispError) {
      switch CDIName.parse(text) {
      case .failure(let error): throw CrispError.invalidArgument("\(field): \(error.message)")
      case .success(let name):
        if !names.contains(name) { names.append(name) }
        guard names.count <= maxDevices else { throw CrispError.invalidArgument("\(field): more than \(maxDevices) CDI devices requested") }
      }
    }
    for (index, text) in cdiDevices.enumerated() { try add(text, field: "config.CDI_devices[\(index)].name") }
    for key in annotations.keys.sorted() where key.hasPrefix(annotationPrefix) {
      let field = "config.annotations[\"\(key)\"]"
      guard key.count > annotationPrefix.count else { throw CrispError.invalidArgument("\(field): the key after \(annotationPrefix) is empty") }
      let value = annotations[key] ?? ""
      guard value.utf8.count <= 64 * 1024 else { throw CrispError.invalidArgument("\(field): longer than 64 KiB") }
      for part in value.split(separator: ",", omittingEmptySubsequences: false) { try add(String(part), field: field) }
    }
    return names
  }

  /// The merged edits for `names` (each spec file's common edits once, before its first device's).
  public static func resolve(_ names: [CDIName], in contents: CDIRegistryContents, directories: [String]) throws(CrispError) -> CDIEdits {
    var edits = CDIEdits()
    var specsApplied = Set<String>()
    for name in names {
      guard let entry = contents.devices[name] else { throw unknown(name, contents: contents, directories: directories) }
      let what = "CDI device \"\(name)\" (spec file \(entry.specPath))"
      if !specsApplied.contains(entry.specPath) {
        specsApplied.insert(entry.specPath)
        try add(entry.specEdits, field: "containerEdits", what: what, to: &edits)
      }
      try add(entry.edits, field: "device \"\(name.device)\" containerEdits", what: what, to: &edits)
      edits.devices.append(name)
    }
    return edits
  }

  private static func unknown(_ name: CDIName, contents: CDIRegistryContents, directories: [String]) -> CrispError {
    if let conflict = contents.conflicts[name] {
      return .failedPrecondition("CDI device \"\(name)\": \(conflict)")
    }
    if let file = contents.rejected.first(where: { $0.kind == name.kind }) {
      return .failedPrecondition("CDI device \"\(name)\": spec file \(file.path) for kind \(name.kind) was rejected: \(file.reason)")
    }
    let sameKind = contents.devices.values.filter { $0.name.kind == name.kind }
    if !sameKind.isEmpty {
      let files = Set(sameKind.map(\.specPath)).sorted().joined(separator: ", ")
      let known = sameKind.map(\.name.device).sorted()
      let listed = known.prefix(10).joined(separator: ", ") + (known.count > 10 ? ", …" : "")
      return .invalidArgument("CDI device \"\(name)\": unknown device; \(files) define kind \(name.kind) with devices \(listed)")
    }
    var message = "CDI device \"\(name)\": no CDI spec defines kind \(name.kind) (cdi.spec_dirs: \(directories.joined(separator: ", ")))"
    if directories.isEmpty { message = "CDI device \"\(name)\": CDI is off on this node (cdi.spec_dirs is empty)" }
    let unread = contents.rejected.filter { $0.kind == nil }
    if let first = unread.first {
      message += "; \(unread.count) spec file(s) could not be read, e.g. \(first.path): \(first.reason)"
    }
    return .invalidArgument(message)
  }

  private static func add(_ source: CDIContainerEdits, field: String, what: String, to edits: inout CDIEdits) throws(CrispError) {
    if let unsupported = source.unsupported.first {
      throw CrispError.failedPrecondition("\(what): \(field).\(unsupported) is not supported by crisp, so the device cannot be given")
    }
    edits.env += source.env
    for (index, node) in source.deviceNodes.enumerated() {
      edits.deviceNodes.append(try resolveNode(node, field: "\(what): \(field).deviceNodes[\(index)]"))
    }
    for (index, mount) in source.mounts.enumerated() {
      edits.mounts.append(try resolveMount(mount, field: "\(what): \(field).mounts[\(index)]"))
    }
    for hook in source.hooks {
      edits.hooks.append(
        .init(
          stage: hook.hookName,
          hook: .init(path: hook.path, args: hook.args.isEmpty ? nil : hook.args, env: hook.env.isEmpty ? nil : hook.env, timeout: hook.timeout)))
    }
    edits.additionalGIDs += source.additionalGIDs
  }

  /// A device node with what the spec leaves out (type, major, minor; then mode and owner) read from the
  /// host's node at `hostPath` (else `path`).
  static func resolveNode(_ node: CDIContainerEdits.DeviceNode, field: String) throws(CrispError) -> CDIEdits.Node {
    var device = OCISpec.Device(
      type: node.type ?? "", path: node.path, major: node.major, minor: node.minor, fileMode: node.fileMode, uid: node.uid, gid: node.gid)
    let hostPath = node.hostPath ?? node.path
    let needsHost = node.type == nil || (node.type != "p" && (node.major == nil || node.minor == nil))
    if needsHost {
      var info = stat()
      guard stat(hostPath, &info) == 0 else {
        throw CrispError.failedPrecondition("\(field): host device \(hostPath): \(SystemError.last("stat", hostPath).strerror)")
      }
      let hostType: String
      switch info.st_mode & S_IFMT {
      case S_IFCHR: hostType = "c"
      case S_IFBLK: hostType = "b"
      case S_IFIFO: hostType = "p"
      default: throw CrispError.failedPrecondition("\(field): host path \(hostPath) is not a device node")
      }
      if let declared = node.type, declared != hostType, !(declared == "u" && hostType == "c") {
        throw CrispError.failedPrecondition("\(field): type \"\(declared)\", but the host's \(hostPath) is of type \"\(hostType)\"")
      }
      if node.type == nil { device.type = hostType }
      if device.type != "p", node.major == nil || node.minor == nil {
        let rdev = UInt64(info.st_rdev)
        device.major = Int64(((rdev >> 8) & 0xfff) | ((rdev >> 32) & 0xffff_f000))
        device.minor = Int64((rdev & 0xff) | ((rdev >> 12) & 0xffff_ff00))
      }
      if device.fileMode == nil { device.fileMode = UInt32(info.st_mode & 0o7777) }
      if device.uid == nil { device.uid = info.st_uid }
      if device.gid == nil { device.gid = info.st_gid }
    }
    let permissions = node.permissions.flatMap { $0.isEmpty ? nil : $0 } ?? "rwm"
    return CDIEdits.Node(device: device, access: device.type == "p" ? nil : permissions, specOwnsUID: node.uid != nil, specOwnsGID: node.gid != nil)
  }

  /// An OCI mount; a bind mount's source must exist now (runc would fail later, after side effects).
  static func resolveMount(_ mount: CDIContainerEdits.Mount, field: String) throws(CrispError) -> OCISpec.Mount {
    let type = mount.type ?? "bind"
    var options = mount.options
    if type == "bind" {
      var info = stat()
      guard stat(mount.hostPath, &info) == 0 else {
        throw CrispError.failedPrecondition("\(field): hostPath \(mount.hostPath): \(SystemError.last("stat", mount.hostPath).strerror)")
      }
      if !options.contains("bind") && !options.contains("rbind") { options.append("bind") }
    }
    return OCISpec.Mount(destination: mount.containerPath, type: type, source: mount.hostPath, options: options.isEmpty ? nil : options)
  }
}
