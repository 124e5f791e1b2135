import CrispCore
#if canImport(Glibc)
import Glibc
#endif

/// The drop-in directory beside the main configuration file: `<dir of main file>/config.d/*.toml`, merged
/// over the main file in lexical (byte) order of their names.
///
/// Tools that own one setting (a device plugin's installer adding a runtime handler, a mirror set by a
/// bootstrap script) write their own file here instead of editing the main one, as with containerd 2.x's
/// `imports` and CRI-O's `crio.conf.d`. Only regular files (or links to them) named `*.toml` count; editor
/// backups (`10-gpu.toml~`, `.10-gpu.toml.swp`) and dotfiles are skipped. The directory is bounded: at most
/// ``maximumFiles`` drop-ins, ``maximumEntries`` names scanned.
public enum ConfigDropIns {
  /// More drop-ins than this is refused, not truncated: a configuration missing its last files is wrong.
  public static let maximumFiles = 256
  /// Names read from the directory, whatever they are, before the scan gives up.
  public static let maximumEntries = 4096

  /// `<dir of path>/config.d`.
  public static func directory(forMainFile path: String) -> String {
    FilePath.join(FilePath.directory(of: path), "config.d")
  }

  /// The drop-in files of `directory` in merge order; none when the directory does not exist.
  public static func files(in directory: String) throws(ConfigError) -> [String] {
    guard let stream = opendir(directory) else {
      if errno == ENOENT { return [] }
      throw ConfigError(
        key: "", line: nil, message: "cannot read the drop-in directory: \(SystemError.last("opendir", directory))", source: directory)
    }
    defer { closedir(stream) }
    var names: [String] = []
    var scanned = 0
    while true {
      errno = 0
      guard let entry = readdir(stream) else {
        if errno != 0 {
          throw ConfigError(
            key: "", line: nil, message: "cannot read the drop-in directory: \(SystemError.last("readdir", directory))", source: directory)
        }
        break
      }
      scanned += 1
      guard scanned <= maximumEntries else {
        throw ConfigError(
          key: "", line: nil, message: "more than \(maximumEntries) entries: crisp reads at most \(maximumFiles) drop-ins from a short directory",
          source: directory)
      }
      let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      guard isDropInName(name), isRegularFile(FilePath.join(directory, name)) else { continue }
      names.append(name)
      guard names.count <= maximumFiles else {
        throw ConfigError(
          key: "", line: nil, message: "more than \(maximumFiles) *.toml drop-ins; merge some of them (crisp reads at most \(maximumFiles))",
          source: directory)
      }
    }
    return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.map { FilePath.join(directory, $0) }
  }

  /// `*.toml`, not hidden, not only the extension.
  static func isDropInName(_ name: String) -> Bool {
    name.hasSuffix(".toml") && !name.hasPrefix(".") && name.utf8.count > ".toml".utf8.count
  }

  /// A regular file, following a symbolic link (configuration managers link files into place).
  private static func isRegularFile(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
  }
}
