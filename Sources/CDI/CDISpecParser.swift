import CrispCore
import Foundation
import Glibc
import Yams

/// Reads and checks CDI spec files (JSON or YAML). Spec files come from directories only root writes, but a
/// vendor's tool writes them and a bad one must never take the node down: the file size, nesting depth,
/// node count and every list are bounded, every field is checked against the version the file declares,
/// and a file that fails any check is refused whole with a message naming the field.
public enum CDISpecParser {
  /// Larger spec files are refused unread (real ones are a few KiB).
  public static let maxFileSize = 1 << 20
  /// Devices in one spec file.
  public static let maxDevices = 1024
  /// Entries in each list of one `containerEdits` (env, deviceNodes, mounts, hooks, additionalGids), and
  /// annotations of one spec or device.
  public static let maxEntries = 256
  /// YAML/JSON nesting, bounded before the decoder (which recurses) sees the text.
  public static let maxDepth = 128
  /// YAML nodes after aliases are expanded: aliases can make a small file decode into a huge tree.
  public static let maxNodes = 200_000

  public enum Format: String, Sendable {
    case json, yaml
  }

  /// The format a file's name says (`.json`, `.yaml`, `.yml`); nil for files that are not spec files.
  public static func format(of fileName: String) -> Format? {
    if fileName.hasSuffix(".json") { return .json }
    if fileName.hasSuffix(".yaml") || fileName.hasSuffix(".yml") { return .yaml }
    return nil
  }

  /// Reads one spec file: a regular file up to ``maxFileSize``.
  public static func load(_ path: String) throws(CDISpecError) -> CDISpec {
    guard let format = format(of: path) else { throw CDISpecError("not a .json or .yaml file") }
    var info = stat()
    guard stat(path, &info) == 0 else { throw CDISpecError(SystemError.last("stat", path).strerror) }
    guard info.st_mode & S_IFMT == S_IFREG else { throw CDISpecError("not a regular file") }
    guard info.st_size <= maxFileSize else { throw CDISpecError("larger than \(maxFileSize) bytes (\(info.st_size))") }
    let read: [UInt8]?
    do {
      read = try FilePath.readRegularFile(path, limit: maxFileSize)
    } catch {
      throw CDISpecError(error.errno == EFBIG ? "larger than \(maxFileSize) bytes" : "\(error)")
    }
    guard let bytes = read else { throw CDISpecError("no such file") }
    return try parse(bytes, format: format)
  }

  /// Decodes and checks a spec's bytes.
  public static func parse(_ bytes: [UInt8], format: Format) throws(CDISpecError) -> CDISpec {
    guard bytes.count <= maxFileSize else { throw CDISpecError("larger than \(maxFileSize) bytes (\(bytes.count))") }
    guard let text = String(validating: bytes, as: UTF8.self) else { throw CDISpecError("not valid UTF-8") }
    let depth = nestingBound(bytes, yaml: format == .yaml)
    guard depth <= maxDepth else { throw CDISpecError("nested deeper than \(maxDepth) levels") }
    let spec: CDISpec
    do {
      switch format {
      case .json:
        spec = try JSONDecoder().decode(CDISpec.self, from: Data(bytes))
      case .yaml:
        // Composed once to count the nodes aliases expand to, then decoded (Yams 5 decodes from text only).
        guard let node = try Yams.compose(yaml: text) else { throw CDISpecError("empty document") }
        guard countNodes(node, limit: maxNodes) <= maxNodes else { throw CDISpecError("more than \(maxNodes) YAML nodes (after aliases)") }
        spec = try YAMLDecoder().decode(CDISpec.self, from: text)
      }
    } catch let error as CDISpecError {
      throw error
    } catch let error as DecodingError {
      throw CDISpecError(describe(error))
    } catch {
      throw CDISpecError("not valid \(format == .json ? "JSON" : "YAML"): \(error)")
    }
    do {
      try validate(spec)
    } catch {
      throw CDISpecError(error.message, kind: spec.kind)
    }
    return spec
  }

  /// Checks a decoded spec: version, kind, device names, every edit, and that no field is newer than the
  /// declared `cdiVersion`.
  public static func validate(_ spec: CDISpec) throws(CDISpecError) {
    guard let version = CDIVersion(spec.version) else {
      throw CDISpecError(
        "cdiVersion \"\(spec.version)\" is not a CDI version crisp reads (\(CDIVersion.supported.map(\.description).joined(separator: ", ")))")
    }
    func require(_ needed: CDIVersion, _ what: String) throws(CDISpecError) {
      guard version >= needed else { throw CDISpecError("\(what) needs cdiVersion \(needed) or later; the file declares \(spec.version)") }
    }
    let kind: (vendor: String, class: String)
    switch CDIName.parseKind(spec.kind) {
    case .success(let parsed): kind = parsed
    case .failure(let error): throw CDISpecError("kind: \(error.message)")
    }
    if kind.class.contains(".") { try require(.specAnnotations, "kind: a '.' in the class \"\(kind.class)\"") }
    try checkAnnotations(spec.annotations, field: "annotations")
    if !spec.annotations.isEmpty { try require(.specAnnotations, "annotations") }
    guard !spec.devices.isEmpty else { throw CDISpecError("devices: a spec defines at least one device") }
    guard spec.devices.count <= maxDevices else { throw CDISpecError("devices: more than \(maxDevices)") }
    try checkEdits(spec.containerEdits, field: "containerEdits", require: require)
    var names = Set<String>()
    for (index, device) in spec.devices.enumerated() {
      let field = "devices[\(index)]"
      if let problem = CDIName.deviceProblem(device.name, allowLeadingDigit: true) {
        throw CDISpecError("\(field).name \(problem)")
      }
      if let first = device.name.utf8.first, !CDIName.isLetter(first) {
        try require(.hostPathAndDigitNames, "\(field).name \"\(device.name)\" (starting with a digit)")
      }
      guard names.insert(device.name).inserted else { throw CDISpecError("\(field).name \"\(device.name)\": defined twice in this spec") }
      try checkAnnotations(device.annotations, field: "\(field).annotations")
      if !device.annotations.isEmpty { try require(.specAnnotations, "\(field).annotations") }
      guard !device.containerEdits.isEmpty else { throw CDISpecError("\(field).containerEdits: a device must edit the container") }
      try checkEdits(device.containerEdits, field: "\(field).containerEdits", require: require)
    }
  }

  private static func checkAnnotations(_ annotations: [String: String], field: String) throws(CDISpecError) {
    guard annotations.count <= maxEntries else { throw CDISpecError("\(field): more than \(maxEntries)") }
    if annotations.keys.contains(where: \.isEmpty) { throw CDISpecError("\(field): an empty key") }
  }

  private static func checkEdits(
    _ edits: CDIContainerEdits, field: String, require: (CDIVersion, String) throws(CDISpecError) -> Void
  ) throws(CDISpecError) {
    let lists = [
      ("env", edits.env.count), ("deviceNodes", edits.deviceNodes.count), ("mounts", edits.mounts.count), ("hooks", edits.hooks.count),
      ("additionalGids", edits.additionalGIDs.count),
    ]
    for (name, count) in lists where count > maxEntries { throw CDISpecError("\(field).\(name): more than \(maxEntries) entries") }
    for (index, entry) in edits.env.enumerated() { try checkEnv(entry, field: "\(field).env[\(index)]") }
    for (index, node) in edits.deviceNodes.enumerated() {
      let at = "\(field).deviceNodes[\(index)]"
      guard node.path.hasPrefix("/") else { throw CDISpecError("\(at).path \"\(node.path)\" must be an absolute path") }
      if let hostPath = node.hostPath {
        try require(.hostPathAndDigitNames, "\(at).hostPath")
        guard hostPath.hasPrefix("/") else { throw CDISpecError("\(at).hostPath \"\(hostPath)\" must be an absolute path") }
      }
      if let type = node.type, !["c", "b", "u", "p"].contains(type) {
        throw CDISpecError("\(at).type \"\(type)\": one of c, b, u, p")
      }
      if let major = node.major, major < 0 { throw CDISpecError("\(at).major \(major): negative") }
      if let minor = node.minor, minor < 0 { throw CDISpecError("\(at).minor \(minor): negative") }
      if let mode = node.fileMode, mode > 0o7777 { throw CDISpecError("\(at).fileMode \(mode): only permission bits (at most 0o7777)") }
      if let permissions = node.permissions, !permissions.allSatisfy({ "rwm".contains($0) }) {
        throw CDISpecError("\(at).permissions \"\(permissions)\": only r, w and m")
      }
    }
    for (index, mount) in edits.mounts.enumerated() {
      let at = "\(field).mounts[\(index)]"
      guard mount.containerPath.hasPrefix("/") else {
        throw CDISpecError("\(at).containerPath \"\(mount.containerPath)\" must be an absolute path")
      }
      guard !mount.hostPath.isEmpty else { throw CDISpecError("\(at).hostPath is empty") }
      if let type = mount.type {
        try require(.mountType, "\(at).type")
        guard !type.isEmpty else { throw CDISpecError("\(at).type is empty") }
      }
      if mount.type == nil || mount.type == "bind", !mount.hostPath.hasPrefix("/") {
        throw CDISpecError("\(at).hostPath \"\(mount.hostPath)\" must be an absolute path for a bind mount")
      }
      guard mount.options.count <= maxEntries else { throw CDISpecError("\(at).options: more than \(maxEntries)") }
    }
    for (index, hook) in edits.hooks.enumerated() {
      let at = "\(field).hooks[\(index)]"
      guard CDIContainerEdits.Hook.stages.contains(hook.hookName) else {
        throw CDISpecError("\(at).hookName \"\(hook.hookName)\": one of \(CDIContainerEdits.Hook.stages.joined(separator: ", "))")
      }
      guard hook.path.hasPrefix("/") else { throw CDISpecError("\(at).path \"\(hook.path)\" must be an absolute path") }
      if let timeout = hook.timeout, timeout <= 0 { throw CDISpecError("\(at).timeout \(timeout): must be positive") }
      guard hook.args.count <= maxEntries, hook.env.count <= maxEntries else { throw CDISpecError("\(at): more than \(maxEntries) args or env") }
      for (envIndex, entry) in hook.env.enumerated() { try checkEnv(entry, field: "\(at).env[\(envIndex)]") }
    }
    if !edits.additionalGIDs.isEmpty { try require(.additionalGroups, "\(field).additionalGids") }
    if edits.unsupported.contains("intelRdt") {
      try require(edits.usesNewIntelRdt ? .netDevices : .additionalGroups, "\(field).intelRdt")
    }
    if edits.unsupported.contains("netDevices") { try require(.netDevices, "\(field).netDevices") }
  }

  private static func checkEnv(_ entry: String, field: String) throws(CDISpecError) {
    guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
      throw CDISpecError("\(field) \"\(entry)\" is not NAME=value")
    }
  }

  /// An upper bound of the document's nesting: flow brackets open across lines, plus, for YAML, a line's
  /// indentation and its compact `- `/`? ` entries (block nesting needs one of them per level). Brackets
  /// inside quoted strings count too, so the bound is never below the real depth.
  static func nestingBound(_ bytes: [UInt8], yaml: Bool) -> Int {
    var flow = 0
    var deepest = 0
    var lineStart = true
    var indentation = 0
    var compact = 0
    var previous: UInt8 = 0x0A
    var inComment = false
    for byte in bytes {
      if byte == 0x0A {
        lineStart = true
        indentation = 0
        compact = 0
        inComment = false
        previous = byte
        continue
      }
      if inComment { continue }
      if lineStart, byte == 0x20 {
        indentation += 1
      } else {
        lineStart = false
        switch byte {
        case UInt8(ascii: "["), UInt8(ascii: "{"): flow += 1
        case UInt8(ascii: "]"), UInt8(ascii: "}"): flow = max(0, flow - 1)
        case UInt8(ascii: "#") where yaml && (previous == 0x20 || previous == 0x0A || previous == 0x09): inComment = true
        case UInt8(ascii: "-"), UInt8(ascii: "?"):
          if yaml, previous == 0x20 || previous == 0x0A { compact += 1 }
        default: break
        }
      }
      previous = byte
      deepest = max(deepest, flow + (yaml ? indentation + compact : 0))
    }
    return deepest
  }

  /// Nodes of a composed YAML tree, counted without recursion and only up to `limit` (+1).
  static func countNodes(_ root: Node, limit: Int) -> Int {
    var count = 0
    var stack = [root]
    while let node = stack.popLast() {
      count += 1
      if count > limit { return count }
      switch node {
      case .mapping(let mapping):
        for (key, value) in mapping {
          stack.append(key)
          stack.append(value)
        }
      case .sequence(let sequence): stack.append(contentsOf: sequence)
      default: break
      }
    }
    return count
  }

  /// A decoder error as a field path and what is wrong there.
  static func describe(_ error: DecodingError) -> String {
    func path(_ keys: [any CodingKey]) -> String {
      var text = ""
      for key in keys {
        if let index = key.intValue {
          text += "[\(index)]"
        } else {
          text += (text.isEmpty ? "" : ".") + key.stringValue
        }
      }
      return text.isEmpty ? "the document" : text
    }
    switch error {
    case .typeMismatch(let type, let context): return "\(path(context.codingPath)): expected \(type)"
    case .valueNotFound(let type, let context): return "\(path(context.codingPath)): missing \(type)"
    case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])): missing"
    case .dataCorrupted(let context):
      return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default: return "\(error)"
    }
  }
}
