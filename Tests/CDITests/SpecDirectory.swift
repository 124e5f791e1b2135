import Foundation

/// A temporary directory of CDI spec files for one test, removed when the test ends.
final class SpecDirectory {
  let path: String

  init() throws {
    path = NSTemporaryDirectory() + "crisp-cdi-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  /// A subdirectory (one spec directory of several).
  func directory(_ name: String) throws -> String {
    let directory = path + "/" + name
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory
  }

  @discardableResult
  func write(_ name: String, _ text: String, in directory: String? = nil) throws -> String {
    let file = (directory ?? path) + "/" + name
    try Data(text.utf8).write(to: URL(fileURLWithPath: file))
    return file
  }
}
