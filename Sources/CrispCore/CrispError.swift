/// The one error type of crisp's domain.
///
/// Every layer throws this (or wraps what it caught in it) so that the gRPC boundary can turn any failure
/// into a precise status in one place. The message is written for the operator reading `crictl` output or a
/// kubelet event: it names the object and the field, e.g. `container "abc": mounts[2].host_path "/x": no such
/// file or directory`.
public struct CrispError: Error, Sendable, CustomStringConvertible {
  /// What kind of failure this is; maps one to one onto a gRPC status code at the server boundary.
  public enum Code: String, Sendable, CaseIterable {
    case invalidArgument
    case notFound
    case alreadyExists
    case failedPrecondition
    case unimplemented
    case deadlineExceeded
    case resourceExhausted
    case unauthenticated
    case permissionDenied
    case unavailable
    case cancelled
    case `internal`
  }

  public var code: Code
  public var message: String
  /// What went wrong underneath, kept for logs; never shown instead of `message`.
  public var cause: (any Error)?

  public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
  }

  public var description: String {
    if let cause { return "\(message) (\(cause))" }
    return message
  }

  public static func invalidArgument(_ message: String) -> CrispError { .init(.invalidArgument, message) }
  public static func notFound(_ message: String) -> CrispError { .init(.notFound, message) }
  public static func alreadyExists(_ message: String) -> CrispError { .init(.alreadyExists, message) }
  public static func failedPrecondition(_ message: String) -> CrispError { .init(.failedPrecondition, message) }
  public static func internalError(_ message: String, cause: (any Error)? = nil) -> CrispError {
    .init(.internal, message, cause: cause)
  }
  /// An internal failure while doing `what` (which names the object): the cause's text is appended to the
  /// message and the cause itself kept for logs.
  public static func failed(_ what: String, _ cause: any Error) -> CrispError {
    .init(.internal, "\(what): \(cause)", cause: cause)
  }
}

extension CrispError {
  /// Any error as a ``CrispError``: ours pass through, cancellation stays cancellation, anything else is
  /// internal with its description.
  public static func from(_ error: any Error) -> CrispError {
    switch error {
    case let error as CrispError: return error
    case is CancellationError: return CrispError(.cancelled, "cancelled")
    case let error as SystemError: return CrispError(.internal, error.description, cause: error)
    default: return CrispError(.internal, "\(error)", cause: error)
    }
  }

  /// Runs `body`, converting whatever it throws with ``from(_:)``.
  public static func catching<T>(_ body: () async throws -> T) async throws(CrispError) -> T {
    do {
      return try await body()
    } catch {
      throw from(error)
    }
  }
}
