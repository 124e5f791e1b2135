@testable import CRIServer
import GRPCCore
import NIOCore
import Testing

/// Every event in every phase of ``GRPCCallState``: what the call does (its actions, as ``ActionText``) and
/// where it ends up. An event that makes no sense in a phase (an answer before the handler runs, a frame
/// after the stream is gone) must do nothing and leave the phase as it was.
@Suite struct GRPCCallStateTransitionTests {
  /// A phase, reached by real events from a new call.
  enum Start: String, CaseIterable, CustomTestStringConvertible {
    case awaitingHeaders, receiving, runningClientDone, runningClientSending, responding, answeredResetPending, answered, closed

    var testDescription: String { rawValue }

    func make() throws -> CallDriver {
      var call = CallDriver()
      switch self {
      case .awaitingHeaders:
        break
      case .receiving:
        call.open(FakeMethods.unary)
      case .runningClientDone:
        call.open(FakeMethods.unary)
        try call.message("a", endStream: true)
      case .runningClientSending:
        call.open(FakeMethods.collect)
      case .responding:
        call.open(FakeMethods.stream)
        try call.message("a", endStream: true)
        _ = call.state.sendingMessage([1])
      case .answeredResetPending:
        call.open(FakeMethods.collect)
        _ = call.state.handlerFinished(.success([7, 7]))
      case .answered:
        call.open(FakeMethods.unary)
        try call.message("a", endStream: true)
        _ = call.state.handlerFinished(.success([7, 7]))
      case .closed:
        call.open(FakeMethods.unary)
        _ = call.state.abandoned("gone")
      }
      return call
    }
  }

  /// The events, each applied to a fresh call in the starting phase.
  static var events: [(name: String, apply: (inout CallDriver) throws -> String)] {
    [
      ("headers", { $0.open(FakeMethods.unary) }),
      ("trailers", { $0.open(FakeMethods.unary, endStream: true) }),
      ("data", { try $0.message("a") }),
      ("data+end", { try $0.message("a", endStream: true) }),
      ("finished ok", { ActionText.describe($0.state.handlerFinished(.success([7, 7]))) }),
      ("finished error", { ActionText.describe($0.state.handlerFinished(.failure(RPCError(code: .notFound, message: "gone")))) }),
      ("send", { ActionText.describe($0.state.sendingMessage([9])) }),
      ("consumed", { ActionText.describe($0.state.handlerConsumed(5)) }),
      ("deadline", { ActionText.describe($0.state.deadlineExpired(after: .milliseconds(250))) }),
      ("shutdown", { ActionText.describe($0.state.shuttingDown(force: false)) }),
      ("force close", { ActionText.describe($0.state.shuttingDown(force: true)) }),
      ("flushed", { ActionText.describe($0.state.trailersFlushed()) }),
      ("abandoned", { ActionText.describe($0.state.abandoned("gone")) }),
    ]
  }

  /// Expected "actions → phase" per event; an event missing here must do nothing and keep the phase.
  static let expected: [Start: [String: String]] = [
    .awaitingHeaders: [
      "headers": "begin Unary → receiving",
      "trailers": "begin Unary; record internalError; disarm deadline; trailers-only internalError → answered",
      "abandoned": "nothing → closed",
    ],
    .receiving: [
      "trailers": "record internalError; disarm deadline; trailers-only internalError → answered",
      "data": "nothing → receiving(request)",
      "data+end": "start unary 'a' → running(client done)",
      "deadline": "record deadlineExceeded; disarm deadline; trailers-only deadlineExceeded +reset → answered(reset pending)",
      "force close": "record unavailable; disarm deadline; trailers-only unavailable +reset → answered(reset pending)",
      "abandoned": "record cancelled; disarm deadline → closed",
    ],
    .runningClientDone: [
      "finished ok": "disarm deadline; headers; message 2B; trailers ok → answered",
      "finished error": "disarm deadline; trailers-only notFound → answered",
      "send": "headers; message 1B → responding(client done)",
      "deadline": "cancel handler; disarm deadline; trailers-only deadlineExceeded → answered",
      "force close": "cancel handler; disarm deadline; trailers-only unavailable → answered",
      "abandoned": "cancel handler; disarm deadline → closed",
    ],
    .runningClientSending: [
      "trailers": "end requests → running(client done)",
      "data": "deliver 'a' → running(client sending)",
      "data+end": "deliver 'a'; end requests → running(client done)",
      "finished ok": "disarm deadline; end requests: cancelled; headers; message 2B; trailers ok +reset → answered(reset pending)",
      "finished error": "disarm deadline; end requests: cancelled; trailers-only notFound +reset → answered(reset pending)",
      "send": "headers; message 1B → responding(client sending)",
      "deadline": "cancel handler; disarm deadline; end requests: cancelled; trailers-only deadlineExceeded +reset → answered(reset pending)",
      "force close": "cancel handler; disarm deadline; end requests: cancelled; trailers-only unavailable +reset → answered(reset pending)",
      "abandoned": "cancel handler; disarm deadline; end requests: cancelled gone → closed",
    ],
    .responding: [
      "finished ok": "disarm deadline; message 2B; trailers ok → answered",
      "finished error": "disarm deadline; trailers notFound → answered",
      "send": "message 1B → responding(client done)",
      "deadline": "cancel handler; disarm deadline; trailers deadlineExceeded → answered",
      "shutdown": "cancel handler; disarm deadline; trailers unavailable → answered",
      "force close": "cancel handler; disarm deadline; trailers unavailable → answered",
      "abandoned": "cancel handler; disarm deadline → closed",
    ],
    .answeredResetPending: [
      "send": "refused → answered(reset pending)",
      "flushed": "reset → answered",
      "abandoned": "nothing → closed",
    ],
    .answered: [
      "send": "refused → answered",
      "abandoned": "nothing → closed",
    ],
    .closed: [
      "send": "refused → closed"
    ],
  ]

  @Test(arguments: Start.allCases)
  func everyEvent(in start: Start) throws {
    let before = try start.make().phase
    for (name, apply) in Self.events {
      var call = try start.make()
      let actions = try apply(&call)
      let outcome = "\(actions) → \(call.phase)"
      let defaultOutcome = (name == "send" ? "refused" : "nothing") + " → \(before)"
      #expect(outcome == Self.expected[start]?[name] ?? defaultOutcome, "\(name) in \(start)")
    }
  }

  /// The phases the table starts from are the ones it names (the table would be checking the wrong thing otherwise).
  @Test func startingPhases() throws {
    let phases = try Start.allCases.map { try $0.make().phase }
    #expect(
      phases == [
        "awaitingHeaders", "receiving", "running(client done)", "running(client sending)", "responding(client done)",
        "answered(reset pending)", "answered", "closed",
      ])
  }
}
