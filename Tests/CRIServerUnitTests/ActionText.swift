@testable import CRIServer
import GRPCCore

/// Actions and phases as short text, so a transition's whole outcome is one string to compare.
enum ActionText {
  static func describe(_ actions: [GRPCCallAction]?) -> String {
    guard let actions else { return "refused" }
    return actions.isEmpty ? "nothing" : actions.map(describe).joined(separator: "; ")
  }

  static func describe(_ action: GRPCCallAction) -> String {
    switch action {
    case .refuseHTTP(let status, let reset): return "refuse \(status)" + (reset ? " +reset" : "")
    case .refuseMethod(let path, let status, let reset): return "refuse \(path) \(status.code)" + (reset ? " +reset" : "")
    case .begin(let method, let deadline):
      return "begin \(method.name)" + (deadline.map { " deadline \($0.nanoseconds / 1_000_000)ms" } ?? "")
    case .startHandler(_, let invocation): return "start " + describe(invocation)
    case .deliver(let message, _): return "deliver '\(FakeMethods.requestText(message))'"
    case .endRequests(_, let error): return "end requests" + (error.map { ": " + describe($0) } ?? "")
    case .openWindow(let increment): return "window +\(increment)"
    case .cancelHandler: return "cancel handler"
    case .recordEnd(_, let status): return "record \(status.code)"
    case .cancelDeadline: return "disarm deadline"
    case .writeHeaders: return "headers"
    case .writeMessage(let message): return "message \(message.count)B"
    case .writeTrailers(let status, let trailersOnly, let thenReset):
      return "trailers\(trailersOnly ? "-only" : "") \(status.map { "\($0.code)" } ?? "ok")" + (thenReset ? " +reset" : "")
    case .reset: return "reset"
    }
  }

  static func describe(_ invocation: GRPCInvocation) -> String {
    switch invocation {
    case .unary(_, let request): return "unary '\(FakeMethods.requestText(request))'"
    case .serverStreaming(_, let request): return "serverStreaming '\(FakeMethods.requestText(request))'"
    case .clientStreaming: return "clientStreaming"
    }
  }

  static func describe(_ error: any Error) -> String {
    switch error {
    case let error as RPCError: return "\(error.code) \(error.message)"
    case is CancellationError: return "cancelled"
    default: return "\(error)"
    }
  }

  static func describe(_ phase: GRPCCallState.Phase) -> String {
    switch phase {
    case .awaitingHeaders: return "awaitingHeaders"
    case .receiving(let receiving): return "receiving" + (receiving.request == nil ? "" : "(request)")
    case .running(let running): return "running(\(describe(running.client)))"
    case .responding(let running): return "responding(\(describe(running.client)))"
    case .answered(let resetPending): return resetPending ? "answered(reset pending)" : "answered"
    case .closed: return "closed"
    }
  }

  static func describe(_ client: GRPCCallState.ClientSide) -> String {
    switch client {
    case .sending: return "client sending"
    case .done: return "client done"
    }
  }
}
