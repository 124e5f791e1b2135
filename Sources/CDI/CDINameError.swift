/// Why a CDI device name or kind does not parse; the message quotes the offending text.
public struct CDINameError: Error, Sendable, Equatable, CustomStringConvertible {
  public let message: String

  public init(_ message: String) {
    self.message = message
  }

  public var description: String { message }
}
