/// Why a CDI spec file is refused: the message names the field (`devices[1].containerEdits.mounts[0]`)
/// and what is wrong with it, without the file's name (the caller adds it).
public struct CDISpecError: Error, Sendable, Equatable, CustomStringConvertible {
  public let message: String
  /// The file's `kind` when decoding got that far (a request for a device of that kind then names the file).
  public var kind: String?

  public init(_ message: String, kind: String? = nil) {
    self.message = message
    self.kind = kind
  }

  public var description: String { message }
}
