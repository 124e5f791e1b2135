import CrispCore
import GRPCCore

/// The one place where crisp's errors become gRPC statuses.
///
/// Handlers throw ``CrispError`` (or let a ``SystemError`` escape); kubelet and crictl only ever see the
/// status code and message produced here.
enum ErrorMapping {
  static func rpcError(for error: any Error) -> RPCError {
    switch error {
    case let error as RPCError:
      return error
    case let error as CrispError:
      return RPCError(code: code(for: error.code), message: error.message, cause: error.cause)
    case let error as SystemError:
      return RPCError(code: .internalError, message: error.description, cause: error)
    case is CancellationError:
      return RPCError(code: .cancelled, message: "the call was cancelled")
    default:
      return RPCError(code: .internalError, message: "internal error: \(error)", cause: error)
    }
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
