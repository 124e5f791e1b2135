import CrispCore
import Glibc

/// What the spec directories hold at one moment: the usable devices, the files refused with why, and the
/// device names blocked by a conflict. Built by ``load(directories:)``, a pure read of the directories.
public struct CDIRegistryContents: Sendable, Equatable {
  public var devices: [CDIName: CDIDeviceEntry] = [:]
  public var rejected: [CDIRejectedFile] = []
  /// Devices two files of one directory both define: neither is used (which one the vendor meant is
  /// unknowable), and a request for one fails naming both files.
  public var conflicts: [CDIName: String] = [:]
  /// Spec files in use.
  public var specFiles: [String] = []

  /// Spec files read from one directory; more are refused (real directories hold a few).
  public static let maxFilesPerDirectory = 256
  /// Devices across all directories.
  public static let maxDevices = 16_384

  public init() {}

  /// Reads every directory in order. Within a directory, files are read in name order; a device defined
  /// in a later directory replaces the one of an earlier directory (the CDI spec's priority); a device
  /// defined by two files of the same directory is a conflict. A missing directory holds nothing.
  public static func load(directories: [String]) -> CDIRegistryContents {
    var contents = CDIRegistryContents()
    for directory in directories {
      let names: [String]
      do {
        names = try FilePath.listDirectory(directory).sorted()
      } catch {
        if error.errno != ENOENT { contents.rejected.append(.init(path: directory, reason: "cannot list the directory: \(error.strerror)")) }
        continue
      }
      var specs: [(path: String, spec: CDISpec)] = []
      var files = 0
      for name in names where CDISpecParser.format(of: name) != nil {
        let path = FilePath.join(directory, name)
        files += 1
        guard files <= maxFilesPerDirectory else {
          contents.rejected.append(.init(path: path, reason: "more than \(maxFilesPerDirectory) spec files in \(directory)"))
          continue
        }
        do {
          specs.append((path, try CDISpecParser.load(path)))
        } catch {
          contents.rejected.append(.init(path: path, reason: error.message, kind: error.kind))
        }
      }
      contents.add(specs)
    }
    contents.rejected.sort { $0.path < $1.path }
    return contents
  }

  /// One directory's valid specs: conflicts found first, then every other device added over what earlier
  /// directories defined.
  private mutating func add(_ specs: [(path: String, spec: CDISpec)]) {
    var definedBy: [CDIName: [String]] = [:]
    for (path, spec) in specs {
      guard case .success(let kind) = CDIName.parseKind(spec.kind) else { continue }
      for device in spec.devices { definedBy[CDIName(vendor: kind.vendor, class: kind.class, device: device.name), default: []].append(path) }
    }
    for (name, paths) in definedBy where paths.count > 1 {
      conflicts[name] = "defined by both \(paths.joined(separator: " and ")) (one directory: neither is used)"
      devices[name] = nil
    }
    for (path, spec) in specs {
      guard case .success(let kind) = CDIName.parseKind(spec.kind) else { continue }
      var used = false
      for device in spec.devices {
        let name = CDIName(vendor: kind.vendor, class: kind.class, device: device.name)
        guard definedBy[name]?.count == 1 else { continue }
        guard devices.count < Self.maxDevices || devices[name] != nil else {
          rejected.append(.init(path: path, reason: "more than \(Self.maxDevices) CDI devices on this node; \(name) not used", kind: spec.kind))
          continue
        }
        devices[name] = CDIDeviceEntry(name: name, specPath: path, edits: device.containerEdits, specEdits: spec.containerEdits)
        conflicts[name] = nil
        used = true
      }
      if used { specFiles.append(path) }
    }
    for (name, paths) in definedBy where paths.count > 1 {
      for path in paths { rejected.append(.init(path: path, reason: "device \"\(name)\" is also defined by another file of this directory")) }
    }
  }
}
