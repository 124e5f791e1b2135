import CrispCore
import GRPCCore

/// The one place where crisp's errors become gRPC statuses.
///
/// Handlers throw ``CrispError`` (or let a ``SystemError`` escape); kubelet and crictl only ever see the
/// status code and message produced here.
enum ErrorMapping {
  /// The longest status message sent. Messages quote input (an image's `User`, a path, a profile name);
  /// a megabyte of it in the `grpc-message` trailer makes clients fail the call with RESOURCE_EXHAUSTED
  /// (grpc-go and grpcio cap metadata at 8–16 KiB) instead of showing the real code.
  static let maximumMessageBytes = 4096

  static func rpcError(for error: any Error) -> RPCError {
    switch error {
    case let error as RPCError:
      return RPCError(code: error.code, message: bounded(error.message), cause: error.cause)
    case let error as CrispError:
      return RPCError(code: code(for: error.code), message: bounded(error.message), cause: error.cause)
    case let error as SystemError:
      return RPCError(code: .internalError, message: bounded(error.description), cause: error)
    case is CancellationError:
      return RPCError(code: .cancelled, message: "the call was cancelled")
    default:
      return RPCError(code: .internalError, message: bounded("internal error: \(error)"), cause: error)
    }
  }

  /// `message` cut to ``maximumMessageBytes`` on a character boundary, saying how much was cut.
  static func bounded(_ message: String) -> String {
    let size = message.utf8.count
    guard size > maximumMessageBytes else { return message }
    var kept = 0
    var end = message.startIndex
    for index in message.indices {
      let width = message[index].utf8.count
      guard kept + width <= maximumMessageBytes - 64 else { break }
      kept += width
      end = message.index(after: index)
    }
    return String(message[..<end]) + "… (\(size - kept) more bytes cut)"
  }

  static func code(for code: CrispError.Code) -> RPCError.Code {
    switch code {
    case .invalidArgument: return .invalidArgument
    case .notFound: return .notFound
    case .alreadyExists: return .alreadyExists
    case .failedPrecondition: return .failedPrecondition
    case .unimplemented: return .unimplemented
    case .deadlineExceeded: return .deadlineExceeded
    case .resourceExhausted: return .resourceExhausted
    case .unauthenticated: return .unauthenticated
    case .permissionDenied: return .permissionDenied
    case .unavailable: return .unavailable
    case .cancelled: return .cancelled
    case .internal: return .internalError
    }
  }
}

/// The answer for an RPC whose area is not built yet: `UNIMPLEMENTED`, naming the call and what brings it.
func notImplemented(_ rpc: String, _ area: String) -> CrispError {
  CrispError(.unimplemented, "\(rpc) is not implemented in crisp \(CrispVersion.current): it arrives with \(area)")
}
